/**
 * `npm start`: the only module that reads process.env and listens.
 *
 * With no AUTH_DATABASE_URL outside production it starts the embedded Postgres,
 * sets up the roles and applies the migrations; with no JWT settings it uses a
 * development secret kept in .data/ (mint tokens with `npm run token -- <sub>`).
 */
import "./graphileEnv";
import { makeApp } from "./app";
import { makeTokenVerifier } from "./auth/jwt";
import { ConfigError, jwtConfigFor, loadConfig, type Config } from "./config";
import { loadDevSecrets, startDevDatabase } from "./db/dev";
import { makePool } from "./db/pool";
import { makeLogger } from "./logger";

async function main(): Promise<void> {
  const log = makeLogger({ level: process.env.LOG_LEVEL });

  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  let stopDatabase = async () => {};
  let authUrl = config.authDatabaseUrl;
  let jwt = config.jwt;
  if (!authUrl || !jwt) {
    // Development only: loadConfig has already refused these gaps in production.
    if (!authUrl) {
      const db = await startDevDatabase(config.embeddedPort, (line) => log.info(line));
      authUrl = db.authUrl;
      stopDatabase = db.stop;
    }
    jwt ??= jwtConfigFor({ kind: "secret", secret: (await loadDevSecrets()).jwtSecret });
  }

  const pool = makePool(authUrl, { size: config.poolSize, acquireTimeoutMs: config.poolTimeoutMs }, log);
  try {
    // Fail fast and clearly on a wrong password or an unreachable server; an orchestrator restarts us.
    await pool.query("select 1");
  } catch (error) {
    const where = config.authDatabaseUrl ? "AUTH_DATABASE_URL" : "the embedded database";
    process.stderr.write(`Tasks API cannot connect to ${where}: ${(error as Error).message}\n`);
    await pool.end();
    await stopDatabase();
    process.exit(1);
  }
  // Live updates LISTEN on one session of their own, which must not go through a transaction-mode pooler.
  const listenPool = makePool(
    config.listenDatabaseUrl ?? authUrl,
    { size: 1, acquireTimeoutMs: config.poolTimeoutMs },
    log,
  );
  const verifier = makeTokenVerifier(jwt, log);
  const app = await makeApp({ config, pool, listenPool, verifier, log });
  await new Promise<void>((resolve) => app.server.listen(config.port, config.host, resolve));

  const url = `http://${config.host}:${config.port}`;
  log.info({ url: `${url}/graphql` }, "Tasks API listening");
  if (!config.production) {
    process.stderr.write(
      `\n  GraphQL:  ${url}/graphql\n  GraphiQL: ${url}/graphiql\n` +
        (config.jwt ? "" : `  Token:    npm run token -- alice   (then send "Authorization: Bearer <token>")\n`) +
        "\n",
    );
  }

  const shutdown = async (signal: string) => {
    log.info({ signal }, "shutting down");
    await app.close({ drainMs: config.http.shutdownDrainMs, graceMs: config.http.shutdownGraceMs });
    await Promise.all([pool.end(), listenPool.end()]);
    await stopDatabase();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`Tasks API failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
