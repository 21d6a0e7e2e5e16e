/**
 * The HTTP application: health and metrics endpoints, standard protections, and
 * authentication, rate limits and body limits in front of PostGraphile's GraphQL
 * endpoint — the only route that reaches application data. Read makeApp top to
 * bottom: it is the order a request meets them in.
 */
import { createServer, type Server } from "node:http";
import express from "express";
import type { Pool } from "pg";
import { authenticate } from "./auth/middleware";
import { watchRevocations, withRevocations } from "./auth/revocation";
import { graphqlBody } from "./http/body";
import { idempotencyKey } from "./http/idempotencyKey";
import { fallbacks } from "./http/fallbacks";
import { healthRoutes } from "./http/health";
import { makeObservability } from "./http/observability";
import { corsPolicy, rateLimits, securityHeaders } from "./http/protection";
import { requestContext } from "./http/requestContext";
import { makeShutdown } from "./http/shutdown";
import { latestCommittedMigrationHash } from "./db/migrationLevel";
import type { TokenVerifier } from "./auth/jwt";
import type { AppConfig } from "./config";
import { mountGraphQL } from "./graphql/mount";
import type { Logger } from "./logger";
import { makeListener } from "./realtime/listener";

export interface AppDeps {
  config: AppConfig;
  /** The authenticator's pool. */
  pool: Pool;
  /**
   * Where the one LISTEN connection for live updates comes from: a direct session
   * connection, not a transaction-mode pooler. Defaults to `pool`.
   */
  listenPool?: Pool;
  verifier: TokenVerifier;
  log: Logger;
}

export interface App {
  server: Server;
  /**
   * Graceful stop. Readiness turns 503 at once and requests are still served for
   * `drainMs`, while the load balancer notices; then no new connection is
   * accepted, requests in flight get up to `graceMs` to finish, every socket is
   * closed and GraphQL released. The caller owns and ends the pool afterwards.
   */
  close(options?: { drainMs?: number; graceMs?: number }): Promise<void>;
}

/** How long start-up waits for the revocation cut-offs; past it, requests check them in the database. */
const REVOCATIONS_START_WAIT_MS = 5_000;

export async function makeApp({ config, pool, listenPool = pool, verifier: tokens, log }: AppDeps): Promise<App> {
  // One LISTEN connection: live updates and revocation cut-offs (auth/revocation.ts) share it.
  const listener = makeListener(listenPool);
  const revocations = watchRevocations({ pool, subscriber: listener.subscriber, log });
  listener.onLost(() => revocations.distrust());
  // Every token, on HTTP and WebSocket, fresh or cached, is then held against its user's cut-off.
  const verifier = withRevocations(tokens, revocations);
  const app = express();
  app.disable("x-powered-by");
  if (config.trustProxy > 0) app.set("trust proxy", config.trustProxy);
  const server = httpServer(app, config);
  const shutdown = makeShutdown(server);
  const observability = makeObservability({ pool, log, serverTiming: config.serverTiming });

  app.use(
    requestContext(),
    observability.middleware,
    securityHeaders(config.production),
    corsPolicy(config.corsOrigins),
  );
  app.use(
    healthRoutes({
      pool,
      probeRole: config.roles.anonymous,
      expectedMigration: latestCommittedMigrationHash(),
      keysNotReady: verifier.keys.notReady,
      revocationsLoaded: revocations.loaded,
      shuttingDown: shutdown.draining,
      log,
    }),
  );
  if (config.metrics) app.get("/metrics", observability.metrics);
  app.use(shutdown.refuseWhileClosing);
  // Who is calling is settled first: a rejected token costs no body parsing and no database work;
  // then the caller's rate limit, then the body.
  app.use(
    "/graphql",
    authenticate(verifier, log),
    rateLimits(config.rateLimits),
    ...graphqlBody(config.limits.bodyBytes),
    idempotencyKey(),
    observability.operationName,
  );
  const graphql = await mountGraphQL(app, server, { config, pool, listener, verifier, revocations, log }).catch(
    (error: unknown) => {
      // A failed start must not leave the cut-off watcher retrying and holding the LISTEN connection.
      revocations.close();
      listener.subscriber.release();
      throw error;
    },
  );
  app.use(...fallbacks(log));
  // Readiness waits for the cut-offs too; until they are loaded, each request asks the database.
  const loaded = await Promise.race([
    revocations.whenTrusted().then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), REVOCATIONS_START_WAIT_MS).unref()),
  ]);
  if (!loaded) log.warn("revocation cut-offs not loaded yet; checking them in the database per request meanwhile");

  return { server, close: (options = {}) => shutdown.stop(options, graphql) };
}

function httpServer(app: express.Express, { limits, http }: AppConfig): Server {
  // Node answers 431 itself when a request head is larger.
  // Node enforces the timeouts below only when it sweeps its connections; sweep every second.
  const server = createServer({ maxHeaderSize: limits.headerBytes, connectionsCheckingInterval: 1000 }, app);
  // Slow clients cannot hold a socket: the head must arrive within headersTimeout, the whole request within requestTimeout.
  server.headersTimeout = http.headersTimeoutMs;
  server.requestTimeout = http.requestTimeoutMs;
  server.keepAliveTimeout = http.keepAliveTimeoutMs;
  return server;
}
