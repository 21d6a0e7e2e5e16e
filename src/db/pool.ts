import { Pool, type PoolClient } from "pg";
import { currentRequest } from "../http/requestContext";
import type { Logger } from "../logger";

export interface PoolOptions {
  size: number;
  /** How long a request may wait for a free connection before it is answered 503. */
  acquireTimeoutMs: number;
}

/** The authenticator's pool: bounded, with a bounded wait, never an endless queue. */
export function makePool(connectionString: string, { size, acquireTimeoutMs }: PoolOptions, log: Logger): Pool {
  const pool = new Pool({
    connectionString,
    max: size,
    connectionTimeoutMillis: acquireTimeoutMs,
    idleTimeoutMillis: 30_000,
  });
  // A connection that dies (the database restarted, an admin terminated it) is
  // discarded and replaced on next use. pg emits the death as an 'error' event —
  // on the pool while idle, on the client while checked out — and an unheard
  // 'error' event would crash the process, so both are heard.
  pool.on("error", (error) => log.warn({ err: error }, "idle database connection failed"));
  pool.on("connect", (client) => {
    client.on("error", (error) => log.debug({ err: error }, "database connection failed"));
    timeQueries(client);
  });
  discardBrokenClients(pool, log);
  return pool;
}

/** Adds each query's duration to the current request's database time (Server-Timing, logs). */
function timeQueries(client: PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: typeof query }).query = (...args: unknown[]) => {
    const state = currentRequest();
    const started = performance.now();
    const result = query(...args);
    if (state && result instanceof Promise) {
      const add = () => (state.dbMs += performance.now() - started);
      result.then(add, add);
    }
    return result;
  };
}

/** pg's own flags (no public API): a client that lost its connection but was still put back as idle. */
type ClientState = { _connectionError?: boolean; _queryable?: boolean; _ending?: boolean };

/**
 * pg-pool returns a client to the idle list unless it is told of an error on
 * release, and a connection killed at the wrong moment (an administrator's
 * pg_terminate_backend, a failover) can leave a client that answers every query
 * with "not queryable" — a poisoned connection handed to request after request.
 * Checked on every checkout: a broken client is released with an error, which
 * makes the pool discard it, and the next one is taken.
 */
function discardBrokenClients(pool: Pool, log: Logger): void {
  const connect = pool.connect.bind(pool) as () => Promise<PoolClient>;
  const healthy = async (): Promise<PoolClient> => {
    for (;;) {
      const client = await connect();
      const state = client as unknown as ClientState;
      if (!state._connectionError && state._queryable !== false && !state._ending) return client;
      log.debug("discarding a broken pool connection");
      client.release(new Error("broken connection"));
    }
  };
  // Both of pg's calling conventions: pool.query() itself uses the callback one.
  type Callback = (error: Error | undefined, client?: PoolClient, release?: (error?: Error) => void) => void;
  (pool as unknown as { connect: (callback?: Callback) => Promise<PoolClient> | undefined }).connect = (callback) => {
    if (!callback) return healthy();
    healthy().then(
      (client) => callback(undefined, client, (error) => client.release(error)),
      (error: Error) => callback(error),
    );
    return undefined;
  };
}
