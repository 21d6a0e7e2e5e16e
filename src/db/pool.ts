import { Pool } from "pg";
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
  // Only code and message: pg's errors can carry the client, with its connection
  // details and prepared statements, as enumerable properties.
  pool.on("error", (error) => log.warn(briefly(error), "idle database connection failed"));
  pool.on("connect", (client) => {
    client.on("error", (error) => log.debug(briefly(error), "database connection failed"));
  });
  return pool;
}

function briefly(error: Error & { code?: unknown }): { code?: unknown; message: string } {
  return { code: error.code, message: error.message };
}
