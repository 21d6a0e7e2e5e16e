/**
 * The HTTP application: health and metrics endpoints, standard protections, and
 * authentication, rate limits and body limits in front of PostGraphile's GraphQL
 * endpoint — the only route that reaches application data.
 */
import { createServer, type Server } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Pool } from "pg";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/express/v4";
import { authenticate } from "./auth/middleware";
import { graphqlBody } from "./http/body";
import { healthRoutes } from "./http/health";
import { makeObservability } from "./http/observability";
import { corsPolicy, rateLimits, securityHeaders } from "./http/protection";
import { requestContext } from "./http/requestContext";
import { latestCommittedMigrationHash } from "./db/migrations";
import { RETRY_AFTER_SECONDS } from "./errors";
import type { TokenVerifier } from "./auth/jwt";
import type { AppConfig } from "./config";
import { makePreset } from "./graphile.config";
import type { Logger } from "./logger";
import { makeListener } from "./realtime/listener";
import { makeSubscriptionServer, type SubscriptionServer } from "./realtime/websocket";

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

export async function makeApp({ config, pool, listenPool = pool, verifier, log }: AppDeps): Promise<App> {
  const app = express();
  app.disable("x-powered-by");
  // Node answers 431 itself when a request head is larger.
  // Node enforces the timeouts below only when it sweeps its connections; sweep every second.
  const server = createServer({ maxHeaderSize: config.limits.headerBytes, connectionsCheckingInterval: 1000 }, app);
  // Slow clients cannot hold a socket: the head must arrive within headersTimeout, the whole request within requestTimeout.
  server.headersTimeout = config.http.headersTimeoutMs;
  server.requestTimeout = config.http.requestTimeoutMs;
  server.keepAliveTimeout = config.http.keepAliveTimeoutMs;
  let draining = false; // not ready: the load balancer should stop sending requests
  let closing = false; // refusing: requests still arriving on kept-alive sockets get 503

  if (config.trustProxy > 0) app.set("trust proxy", config.trustProxy);
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
      keysReady: verifier.ready,
      shuttingDown: () => draining,
      log,
    }),
  );
  if (config.metrics) app.get("/metrics", observability.metrics);
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (!closing) return next();
    res.setHeader("Connection", "close");
    res.setHeader("Retry-After", String(RETRY_AFTER_SECONDS));
    res.status(503).json({
      errors: [{ message: "the server is shutting down; retry", extensions: { code: "UNAVAILABLE", retryable: true } }],
    });
  });
  // Who is calling is settled first: a rejected token costs no body parsing and no database work;
  // then the caller's rate limit, then the body.
  app.use(
    "/graphql",
    authenticate(verifier, log),
    rateLimits(config.rateLimits),
    ...graphqlBody(config.limits.bodyBytes),
    observability.operationName,
  );

  let subscriptions: SubscriptionServer | undefined;
  const pgSubscriber = makeListener(listenPool, (error) => {
    log.warn({ err: error }, "LISTEN connection lost; closing WebSockets so clients resubscribe");
    subscriptions?.interrupt();
  });
  const pgl = postgraphile(makePreset({ pool, pgSubscriber, config, log }));
  // Build the schema now: grafserv is "ready" before it is, and a schema build that
  // fails on a request's watch (a connection killed mid-introspection) is not retried.
  await pgl.getSchema();
  const serv = pgl.createServ(grafserv);
  // No grafserv WebSocket handler: ours verifies the token at connection_init and ends the socket at exp.
  await serv.addTo(app, server, false);
  await serv.ready();
  subscriptions = makeSubscriptionServer({
    serv,
    verifier,
    log,
    maxPayloadBytes: config.limits.bodyBytes,
  });
  server.on("upgrade", subscriptions.handleUpgrade);

  app.use((_req: Request, res: Response) => {
    res
      .status(404)
      .json({ errors: [{ message: "Not found; GraphQL is at /graphql", extensions: { code: "NOT_FOUND" } }] });
  });
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    // Express's last resort (e.g. a middleware threw): logged, never shown.
    log.error({ err: error }, "unhandled HTTP error");
    res.status(500).json({ errors: [{ message: "An internal error occurred", extensions: { code: "INTERNAL" } }] });
  });

  return {
    server,
    async close({ drainMs = 0, graceMs = 0 } = {}) {
      draining = true;
      await new Promise((resolve) => setTimeout(resolve, drainMs));
      closing = true;
      // Subscriptions have no end to wait for: their sockets close now (1001), clients reconnect elsewhere.
      subscriptions.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([closed, grace]);
      server.closeAllConnections(); // whatever is still open after the grace period
      await closed;
      await serv.release(); // releases the PostGraphile instance too
      pgSubscriber.release(); // and the LISTEN connection, back to its pool
    },
  };
}
