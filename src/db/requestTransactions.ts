/**
 * How each GraphQL operation borrows a connection: PostGraphile's own pg adaptor,
 * except that opening the transaction and setting the caller's identity take one
 * round trip instead of two.
 *
 * The stock adaptor sends `begin`, then `select set_config(…)` with the settings as
 * a parameter, then the operation's queries, then `commit`: four round trips for a
 * one-query read. Here `begin` and the `set_config(…, true)` calls travel as one
 * simple-protocol message (simple protocol has no parameters, so every value is
 * quoted with pg's escapeLiteral). The settings are still transaction-local and
 * still chosen by the server; everything after them is PostGraphile's own code.
 *
 * A request may instead hold ONE transaction for its whole operation (a
 * RequestTransaction in its request state): every withPgClient call then runs in
 * it, each in a savepoint as the stock adaptor does inside a transaction, and the
 * request decides when it ends — so what it records after execution (an
 * idempotency key with the response) commits together with the writes, or not at all.
 */
import { escapeLiteral, type Pool, type PoolClient } from "pg";
import * as pgAdaptor from "postgraphile/adaptors/pg";
import { currentRequest } from "../http/requestContext";

type WithPgClient = ReturnType<typeof pgAdaptor.makeWithPgClientViaPgClientAlreadyInTransaction>;
type PgSettings = Parameters<WithPgClient>[0];
type PgClient = Parameters<Parameters<WithPgClient>[1]>[0];

/** `begin; select set_config('k', 'v', true), …` — one message, one round trip. */
function beginWithSettings(settings: Record<string, string>): string {
  const calls = Object.entries(settings).map(
    ([name, value]) => `set_config(${escapeLiteral(name)}, ${escapeLiteral(value)}, true)`,
  );
  return `begin; select ${calls.join(", ")}`;
}

/**
 * @dataplan/pg disables JIT optimisation on each connection it opens (its queries
 * are short and JIT only slows them); kept here, transaction-locally.
 */
const ALWAYS: Record<string, string> = { jit_optimize_above_cost: "-1" };

function settingsOf(pgSettings: PgSettings): Record<string, string> {
  const settings: Record<string, string> = { ...ALWAYS };
  for (const [name, value] of Object.entries(pgSettings ?? {})) if (value != null) settings[name] = String(value);
  return settings;
}

/**
 * A transaction held by one request across all its withPgClient calls, opened on the first
 * (with that call's settings) and ended only by `end`. It holds one place in the caller's fair
 * share (`reserve`) and one pool connection from opening to end. Calls run one at a time.
 */
export class RequestTransaction {
  private client?: PoolClient;
  private releaseShare?: () => void;
  private started = 0;
  /** Calls, in order: one pg connection runs one thing at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private ended = false;

  constructor(private readonly reserve: () => Promise<() => void>) {}

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step);
    this.queue = result.catch(() => {});
    return result;
  }

  private async connection(pool: Pool, pgSettings: PgSettings): Promise<PoolClient> {
    if (this.ended) throw new Error("the request's transaction has ended");
    if (this.client) return this.client;
    const releaseShare = await this.reserve();
    let client: PoolClient | undefined;
    try {
      client = await pool.connect();
      this.started = performance.now();
      await client.query(beginWithSettings(settingsOf(pgSettings)));
    } catch (error) {
      await client?.query("rollback").catch(() => {});
      client?.release(true);
      releaseShare();
      throw error;
    }
    this.client = client;
    this.releaseShare = releaseShare;
    return client;
  }

  /** One withPgClient call: PostGraphile's code in a savepoint, so a failing field undoes only its own work. */
  run<T>(pool: Pool, pgSettings: PgSettings, callback: (client: PgClient) => T | Promise<T>): Promise<T> {
    return this.serially(async () => {
      const client = await this.connection(pool, pgSettings);
      await client.query("savepoint request_call");
      try {
        const result = await pgAdaptor.makeWithPgClientViaPgClientAlreadyInTransaction(client, true)(null, callback);
        await client.query("release savepoint request_call");
        return result;
      } catch (error) {
        // Should this fail too, the transaction stays aborted and `end(true)` reports it.
        await client.query("rollback to savepoint request_call").catch(() => {});
        throw error;
      }
    });
  }

  /** A statement of the request's own in the transaction (it must have begun). */
  query<R extends Record<string, unknown>>(text: string, values: unknown[]): Promise<R[]> {
    return this.serially(async () => {
      if (!this.client || this.ended) throw new Error("the request's transaction is not open");
      return (await this.client.query<R>(text, values)).rows;
    });
  }

  /** Commits (or rolls back) and gives the connection and the share back; a failed commit throws. */
  end(commit: boolean): Promise<void> {
    return this.serially(async () => {
      if (this.ended) return;
      this.ended = true;
      const client = this.client;
      if (!client) return;
      let unusable: Error | undefined;
      try {
        // An aborted transaction answers `commit` with ROLLBACK and no error: that is a failure too.
        if (commit && (await client.query("commit")).command !== "COMMIT")
          throw new Error("the request's transaction was aborted and rolled back");
        if (!commit) await client.query("rollback").catch((error: Error) => (unusable = error));
      } catch (error) {
        unusable = error as Error;
        await client.query("rollback").catch(() => {});
        throw error;
      } finally {
        const state = currentRequest();
        if (state) state.dbMs += performance.now() - this.started;
        client.release(unusable);
        this.releaseShare?.();
      }
    });
  }
}

export function makeRequestWithPgClient(pool: Pool): WithPgClient {
  const withPgClient = async <T>(
    pgSettings: PgSettings,
    callback: (client: PgClient) => T | Promise<T>,
  ): Promise<T> => {
    const held = currentRequest()?.transaction;
    if (held) return held.run(pool, pgSettings, callback);
    const settings = settingsOf(pgSettings);
    const client: PoolClient = await pool.connect();
    // The request's database time for Server-Timing: from `begin` until the transaction has ended.
    const started = performance.now();
    let unusable: Error | undefined;
    try {
      await client.query(beginWithSettings(settings));
      // Inside our transaction: PostGraphile's own client, told not to open another one.
      const result = await pgAdaptor.makeWithPgClientViaPgClientAlreadyInTransaction(client, true)(null, callback);
      await client.query("commit");
      return result;
    } catch (error) {
      // Also after a failure inside the first message, which can leave its transaction open and aborted.
      await client.query("rollback").catch((rollbackError: Error) => (unusable = rollbackError));
      throw error;
    } finally {
      const state = currentRequest();
      if (state) state.dbMs += performance.now() - started;
      // A connection that could not even roll back is discarded by the pool, never handed to the next request.
      client.release(unusable);
    }
  };
  return Object.assign(withPgClient, { release: () => {} });
}

/** A pgService's `adaptor`: the stock one, with the withPgClient above. */
export const requestTransactionsAdaptor = {
  ...pgAdaptor,
  createWithPgClient(settings?: pgAdaptor.PgAdaptorSettings, variant?: string | null) {
    // Anything but the request pool (a superuser variant, a connection string) stays stock.
    if (variant === "SUPERUSER" || !settings?.pool) return pgAdaptor.createWithPgClient(settings, variant);
    return makeRequestWithPgClient(settings.pool);
  },
};
