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

export function makeRequestWithPgClient(pool: Pool): WithPgClient {
  const withPgClient = async <T>(
    pgSettings: PgSettings,
    callback: (client: PgClient) => T | Promise<T>,
  ): Promise<T> => {
    const settings: Record<string, string> = { ...ALWAYS };
    for (const [name, value] of Object.entries(pgSettings ?? {})) if (value != null) settings[name] = String(value);
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
