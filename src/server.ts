/**
 * Starts the API on a settled database and JWT key: connects, builds the app,
 * listens, and shuts down cleanly on SIGTERM or SIGINT. Loaded by src/launch.ts
 * only after GRAPHILE_ENV is set (this module loads PostGraphile).
 */
import { makeApp } from "./app";
import { makeTokenVerifier } from "./auth/jwt";
import type { Config, JwtConfig } from "./config";
import { loginProblem } from "./db/login";
import { makePool } from "./db/pool";
import type { Logger } from "./logger";

/** A Config whose database and key are settled, by the environment or by `npm start`'s development defaults. */
export type ServerConfig = Config & { authDatabaseUrl: string; jwt: JwtConfig };

export interface ServerOptions {
  /** Names the database in the message a failed first connection prints. */
  databaseLabel: string;
  /** More lines for the development banner. */
  bannerLines?: string[];
  /** Runs after the pools close, on shutdown or a failed start (`npm start` stops its embedded Postgres here). */
  afterClose?: () => Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger, options: ServerOptions): Promise<void> {
  const { databaseLabel, bannerLines = [], afterClose = async () => {} } = options;
  // The identity provider's keys load while the database connects and the schema builds;
  // readiness waits for them, never for a first request with a token.
  const verifier = makeTokenVerifier(config.jwt, log);
  let stopping: ((reason: string, code: number) => Promise<void>) | undefined;
  let fatalLater: Error | undefined;
  const refuse = (error: Error) => process.stderr.write(`Tasks API refuses to start: ${error.message}\n`);
  const keysSettled = verifier.keys
    .start((error) => {
      // The provider answered only after its first attempt, and contradicts the configuration: stop serving.
      if (!stopping) return void (fatalLater = error);
      process.stderr.write(`Tasks API stops: ${error.message}\n`);
      void stopping("identity provider configuration error", 1);
    })
    .then(
      () => undefined,
      (error: Error) => error,
    );
  const pool = makePool(config.authDatabaseUrl, { size: config.poolSize, acquireTimeoutMs: config.poolTimeoutMs }, log);
  try {
    // Fail fast and clearly on a wrong password or an unreachable server; an orchestrator restarts us.
    await pool.query("select 1");
  } catch (error) {
    process.stderr.write(`Tasks API cannot connect to ${databaseLabel}: ${(error as Error).message}\n`);
    verifier.keys.stop();
    await pool.end();
    await afterClose();
    process.exit(1);
  }
  // Live updates LISTEN on one session of their own, which must not go through a transaction-mode pooler.
  const listenPool = makePool(
    config.listenDatabaseUrl ?? config.authDatabaseUrl,
    { size: 1, acquireTimeoutMs: config.poolTimeoutMs },
    log,
  );
  // Never as a role row-level security does not bind: refused before anything is served.
  const unfit =
    (await loginProblem(pool, config.roles, databaseLabel)) ??
    (config.listenDatabaseUrl
      ? await loginProblem(listenPool, config.roles, "LISTEN_DATABASE_URL").catch(
          (error: Error) => `cannot connect to LISTEN_DATABASE_URL: ${error.message}`,
        )
      : undefined);
  if (unfit) {
    refuse(new Error(unfit));
    verifier.keys.stop();
    await Promise.all([pool.end(), listenPool.end()]);
    await afterClose();
    process.exit(1);
  }
  const app = await makeApp({ config, pool, listenPool, verifier, log });
  // A provider that answers and contradicts JWT_ISSUER stops the start; one that is down does not (readiness says so).
  const keysError = (await keysSettled) ?? fatalLater;
  if (keysError) {
    refuse(keysError);
    await app.close();
    await Promise.all([pool.end(), listenPool.end()]);
    await afterClose();
    process.exit(1);
  }
  let stopped = false;
  stopping = async (reason: string, code: number) => {
    if (stopped) return;
    stopped = true;
    log.info({ reason }, "shutting down");
    verifier.keys.stop();
    await app.close({ drainMs: config.http.shutdownDrainMs, graceMs: config.http.shutdownGraceMs });
    await Promise.all([pool.end(), listenPool.end()]);
    await afterClose();
    process.exit(code);
  };
  process.once("SIGTERM", () => void stopping?.("SIGTERM", 0));
  process.once("SIGINT", () => void stopping?.("SIGINT", 0));
  try {
    await new Promise<void>((resolve, reject) => {
      app.server.once("error", reject);
      app.server.listen(config.port, config.host, () => {
        app.server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    process.stderr.write(`Tasks API cannot listen on ${config.host}:${config.port}: ${listenProblem(error)}\n`);
    await stopping("cannot listen", 1);
    return;
  }

  const url = `http://${config.host}:${config.port}`;
  log.info({ url: `${url}/graphql` }, "Tasks API listening");
  if (!config.production) {
    const lines = [`  GraphQL:  ${url}/graphql`, `  GraphiQL: ${url}/graphiql`, ...bannerLines];
    process.stderr.write(`\n${lines.map((line) => `${line}\n`).join("")}\n`);
  }
}

/** Why listen failed, saying which variable to change. */
function listenProblem(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === "EADDRINUSE") return "the port is in use; set PORT to a free port";
  if (code === "EACCES") return "permission denied (ports below 1024 need privileges); set PORT to a port above 1023";
  if (code === "EADDRNOTAVAIL")
    return "this machine has no such address; set HOST to one of its addresses (or 0.0.0.0)";
  return `${message}; check HOST and PORT`;
}
