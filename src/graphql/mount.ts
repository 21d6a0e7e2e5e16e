/**
 * PostGraphile on the app: the schema built up front, grafserv's HTTP handler at
 * /graphql, our WebSocket server for subscriptions on the same HTTP server, and
 * the one LISTEN connection behind them.
 */
import type { Server } from "node:http";
import type { Express } from "express";
import type { Pool } from "pg";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/express/v4";
import type { TokenVerifier } from "../auth/jwt";
import type { Revocations } from "../auth/revocation";
import type { AppConfig } from "../config";
import { startIdempotencyPurge } from "../db/idempotency";
import { makePreset } from "../graphile.config";
import type { Stoppable } from "../http/shutdown";
import type { Logger } from "../logger";
import type { Listener } from "../realtime/listener";
import { makeSubscriptionServer, type SubscriptionServer } from "../realtime/websocket";

export interface GraphQLDeps {
  config: AppConfig;
  pool: Pool;
  /** The LISTEN connection (on a direct session connection, not a transaction pooler). */
  listener: Listener;
  /** Verifies a token and checks it against the revocation cut-offs. */
  verifier: TokenVerifier;
  revocations: Revocations;
  log: Logger;
}

export async function mountGraphQL(
  app: Express,
  server: Server,
  { config, pool, listener, verifier, revocations, log }: GraphQLDeps,
): Promise<Stoppable> {
  let subscriptions: SubscriptionServer | undefined;
  const pgSubscriber = listener.subscriber;
  listener.onLost((error) => {
    log.warn({ err: error }, "LISTEN connection lost; closing WebSockets so clients resubscribe");
    subscriptions?.interrupt();
  });
  const pgl = postgraphile(makePreset({ pool, pgSubscriber, revocations, config, log }));
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
    limits: config.websocket,
  });
  server.on("upgrade", subscriptions.handleUpgrade);
  // Expired idempotency keys go without a manual step; every instance purges (the statement is idempotent).
  const purge = startIdempotencyPurge(pool, config.roles.user, log);
  // Sign out everywhere: the user's sockets holding a token issued before the new cut-off end now.
  revocations.onCutoff((key, notBefore) => subscriptions.closeRevoked(key, notBefore));

  return {
    // Subscriptions have no end to wait for: their sockets close now (1001), clients reconnect elsewhere.
    closeConnections: () => subscriptions.close(),
    async release() {
      purge.stop();
      await serv.release(); // releases the PostGraphile instance too
      revocations.close();
      pgSubscriber.release(); // and the LISTEN connection, back to its pool
    },
  };
}
