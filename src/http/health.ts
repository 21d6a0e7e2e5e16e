/**
 * Probes for load balancers and orchestrators, answered without a token:
 *   /health/live   the process is up (no dependencies checked);
 *   /health/ready  the database answers within a second as a request role, it has
 *                  the migration this code expects (or a later one), the identity
 *                  provider's keys are loaded, so are the revocation cut-offs, and the
 *                  server is not shutting down.
 */
import type { Request, Response } from "express";
import { Router } from "express";
import type { Pool } from "pg";
import type { Logger } from "../logger";

export interface ReadinessDeps {
  pool: Pool;
  /** The role probes run as; it may call app_meta.migration_applied() and nothing else. */
  probeRole: string;
  expectedMigration: string;
  /** Why the identity provider's keys are not usable yet (says when the next attempt is), or undefined. */
  keysNotReady(): string | undefined;
  /** The revocation cut-offs have been loaded (auth/revocation.ts). */
  revocationsLoaded(): boolean;
  shuttingDown(): boolean;
  log: Logger;
}

const PROBE_TIMEOUT_MS = 1000;

type Check = "ok" | string;

async function migrationApplied({ pool, probeRole, expectedMigration }: ReadinessDeps): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    await client.query("select set_config('role', $1, true), set_config('statement_timeout', $2, true)", [
      probeRole,
      String(PROBE_TIMEOUT_MS),
    ]);
    const { rows } = await client.query<{ applied: boolean }>("select app_meta.migration_applied($1) as applied", [
      expectedMigration,
    ]);
    await client.query("commit");
    return rows[0]?.applied === true;
  } catch (error) {
    await client.query("rollback").catch(() => {}); // the connection may be gone; the original error is what matters
    throw error;
  } finally {
    client.release();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref()),
  ]);
}

export function healthRoutes(deps: ReadinessDeps): Router {
  const router = Router();
  router.get("/health/live", (_req: Request, res: Response) => {
    res.json({ status: "live" });
  });
  router.get("/health/ready", async (_req: Request, res: Response) => {
    const checks: Record<string, Check> = {};
    if (deps.shuttingDown()) checks.shutdown = "shutting down";
    checks.keys = deps.keysNotReady() ?? "ok";
    checks.revocations = deps.revocationsLoaded() ? "ok" : "revocation cut-offs not loaded yet";
    try {
      const applied = await withTimeout(migrationApplied(deps), PROBE_TIMEOUT_MS);
      checks.database = "ok";
      // Ahead is fine (a rolling deploy migrated first); behind is not.
      checks.migrations = applied ? "ok" : "database is behind this build: run the migrations";
    } catch (error) {
      // The reason goes to the log, not to whoever can reach this endpoint.
      deps.log.warn({ err: error }, "readiness: database check failed");
      checks.database = "unreachable";
    }
    const ready = Object.values(checks).every((check) => check === "ok");
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready", checks });
  });
  return router;
}
