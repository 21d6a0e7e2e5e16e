/**
 * The SQL of idempotency keys (app_hidden.idempotency_keys, migration 000010):
 * claiming a key in the request's transaction, recording the response in it, and
 * purging expired keys on a timer. Everything runs as the request role under RLS;
 * the purge through a security definer function that can delete only expired rows.
 */
import { escapeLiteral, type Pool } from "pg";
import type { Logger } from "../logger";

/**
 * Taken first in the mutation's transaction, held until it ends: a second request with the
 * same key (same user) cannot take it while the first runs, and answers 409 instead of
 * waiting with a connection. `try`: waiting would hold a pool connection per duplicate.
 */
export const LOCK_KEY = `
  select pg_try_advisory_xact_lock(hashtextextended(app_public.current_user_id() || E'\\n' || $1, 0)) as locked`;

/** The caller's live record of the key, if any (RLS: only their own); an expired one is deleted on the way. */
export const LOOK_UP_KEY = `
  with expired as (
    delete from app_hidden.idempotency_keys
    where key = $1 and created_at < now() - app_hidden.idempotency_retention()
  )
  select fingerprint, status, body from app_hidden.idempotency_keys
  where key = $1 and created_at >= now() - app_hidden.idempotency_retention()`;

export const RECORD_KEY = `
  insert into app_hidden.idempotency_keys (key, fingerprint, status, body) values ($1, $2, $3, $4)`;

export interface StoredResponse {
  fingerprint: string;
  status: number;
  body: string;
}

/** How often every instance deletes expired keys; the look-up ignores them meanwhile. */
export const PURGE_INTERVAL_MS = 60 * 60 * 1000;

/** Deletes every expired key, as a request role (the function is not granted to the authenticator itself). */
export async function purgeExpiredIdempotencyKeys(pool: Pool, role: string): Promise<number> {
  const client = await pool.connect();
  let unusable: Error | undefined;
  try {
    // set_config, not `set role`: the role is transaction-local like a request's.
    const results = await client.query(
      `begin; select set_config('role', ${escapeLiteral(role)}, true);` +
        " select app_hidden.purge_idempotency_keys() as purged; commit",
    );
    const last = Array.isArray(results) ? results[2] : results;
    return (last.rows[0] as { purged: number }).purged;
  } catch (error) {
    await client.query("rollback").catch((rollbackError: Error) => (unusable = rollbackError));
    throw error;
  } finally {
    client.release(unusable);
  }
}

/** Purges every PURGE_INTERVAL_MS until stopped; a failed purge is logged and tried again next time. */
export function startIdempotencyPurge(pool: Pool, role: string, log: Logger, intervalMs = PURGE_INTERVAL_MS) {
  const purge = () =>
    purgeExpiredIdempotencyKeys(pool, role).then(
      (purged) => purged > 0 && log.info({ purged }, "expired idempotency keys purged"),
      (error: unknown) => log.warn({ err: error }, "purging expired idempotency keys failed; will retry"),
    );
  const timer = setInterval(purge, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
