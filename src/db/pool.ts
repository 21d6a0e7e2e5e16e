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
  // An idle connection that dies (the database restarted) is replaced on next use; it must not crash the process.
  pool.on("error", (error) => log.warn({ err: error }, "idle database connection failed"));
  return pool;
}
