/**
 * GraphQL subscriptions over WebSocket (the graphql-ws protocol) at /graphql.
 *
 * Browsers cannot set headers on a WebSocket, so the token travels in the
 * `connection_init` message: `connectionParams: { authorization: "Bearer <JWT>" }`.
 * It is verified there, with the same TokenVerifier as HTTP; a missing or bad
 * token closes the socket before any operation runs, and the socket is closed
 * when the token's `exp` passes. Only subscriptions travel here: queries and
 * mutations go over HTTP, where the rate and body limits are.
 *
 * Operations run as grafserv runs them (makeGraphQLWSConfig: parsing,
 * validation, the preset's onSubscribe middleware, masking); the socket server
 * is ours because grafserv's has no hook at connection_init.
 *
 * Each user (by the verified `sub`) has a quota over all of their sockets
 * (./quotas.ts): sockets open at once, subscriptions running at once, and
 * messages per interval. Anonymous sockets never get past connection_init.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { makeServer } from "graphql-ws";
import { makeGraphQLWSConfig, normalizeConnectionParams } from "postgraphile/grafserv";
import type { NodeGrafservBase } from "postgraphile/grafserv/node";
import { getOperationAST, GraphQLError } from "postgraphile/graphql";
import { WebSocketServer, type WebSocket } from "ws";
import { bearerToken } from "../auth/bearer";
import { setIdentity } from "../auth/identity";
import { type Claims, TokenError, type TokenVerifier } from "../auth/jwt";
import { KeysUnavailableError } from "../auth/keys";
import { isRevoked, keyOf, RevocationsUnavailableError } from "../auth/revocation";
import { ApiError, errorExtensions } from "../errors";
import { UPSTREAM } from "../errors/upstream";
import { limitExceeded } from "../graphql/limits";
import type { Logger } from "../logger";
import { type SocketQuota, type WebSocketLimits, WebSocketQuotas } from "./quotas";

/** Close codes a client can act on (docs/subscriptions.md). */
export const CLOSE_CODES = {
  /**
   * Missing or invalid token at connect, or its user signed out everywhere (revokeMyTokens) while
   * connected: fix the token, sign in again; graphql-ws clients do not retry.
   */
  unauthorized: 4401,
  /** The token expired while connected: reconnect with a fresh one; graphql-ws clients retry. */
  tokenExpired: 4403,
  /** The identity provider's keys are unavailable, or revocations cannot be checked: retry shortly. */
  keysUnavailable: 1013,
  /** The LISTEN connection was lost and events may have been missed: reconnect, resubscribe, refetch. */
  listenerLost: 1013,
  /** The server is shutting down: reconnect (to another instance). */
  goingAway: 1001,
  /** The user already holds as many sockets as allowed: close one; graphql-ws clients retry with backoff. */
  tooManySockets: 4290,
  /** The user sent more messages than allowed, over all their sockets: graphql-ws clients retry with backoff. */
  tooManyMessages: 4291,
  internalError: 1011,
} as const;

/**
 * Messages a socket may send before its token is verified: connection_init and a ping or
 * two. There is no user to charge yet, and graphql-ws closes it 3 s after opening (4408).
 */
const MESSAGES_BEFORE_AUTH = 3;
/** How long an unauthenticated socket may stay open without sending connection_init. */
const CONNECTION_INIT_WAIT_MS = 3_000;
/** How often a silent peer is pinged; one that misses a pong is dropped (and its LISTENs released). */
const KEEPALIVE_MS = 15_000;
/** setTimeout's largest delay; a longer-lived token is checked again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Extra {
  socket: WebSocket;
  request: IncomingMessage;
  /** Its user's quota, from a successful connection_init until the socket closes. */
  quota?: SocketQuota;
  sub?: string;
  /** The token's issue time and its user's key, for closing the socket when the user signs out everywhere. */
  iat?: number;
  userKey?: string;
}

export interface SubscriptionServerOptions {
  /** Sockets are accepted at its GraphQL path. */
  serv: NodeGrafservBase;
  verifier: TokenVerifier;
  log: Logger;
  /** Largest message a client may send, bytes. */
  maxPayloadBytes: number;
  /** Per user, over all of their sockets. */
  limits: WebSocketLimits;
}

export interface SubscriptionServer {
  /** For `server.on("upgrade")`. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Refuses new sockets and closes the open ones (1001), ending their subscriptions. */
  close(): void;
  /** Closes the open sockets (1013) after the LISTEN connection was lost; clients reconnect. */
  interrupt(): void;
  /** Closes (4401) the sockets of this user (by key) whose token was issued before `notBefore` (epoch seconds). */
  closeRevoked(userKey: string, notBefore: number): void;
}

export function makeSubscriptionServer(options: SubscriptionServerOptions): SubscriptionServer {
  const { serv, verifier, log } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  const base = makeGraphQLWSConfig(serv);
  const quotas = new WebSocketQuotas(options.limits);
  const { socketsPerUser, subscriptionsPerUser, messagesPerInterval, messageIntervalMs } = options.limits;
  const tooManyMessages = `Too many messages: at most ${messagesPerInterval} per ${messageIntervalMs / 1000} s per user; reconnect later`;
  let closing = false;
  /** Sockets past connection_init, for closing a user's when they sign out everywhere. */
  const signedIn = new Set<Extra>();

  const closeWith = (socket: WebSocket, code: number, reason: string) => {
    // A close reason is at most 123 bytes; ours are short sentences, this is a guard.
    socket.close(code, Buffer.from(reason).subarray(0, 123).toString());
  };

  const graphqlWs = makeServer<Record<string, unknown> | undefined, Extra>({
    ...base,
    // graphql-ws's default, stated: a socket that has not sent connection_init by then is closed (4408).
    connectionInitWaitTimeout: CONNECTION_INIT_WAIT_MS,
    onError: (ctx, id, payload, errors) => base.onError!(ctx, id, payload, errors.map(relabelInterruption)),
    onNext: (ctx, id, payload, args, result) =>
      base.onNext!(
        ctx,
        id,
        payload,
        args,
        result.errors ? { ...result, errors: result.errors.map(relabelInterruption) } : result,
      ),
    async onConnect(ctx) {
      const { socket, request } = ctx.extra;
      const refuse = (code: number, reason: string) => {
        closeWith(socket, code, reason);
        return false;
      };
      const header = normalizeConnectionParams(ctx.connectionParams)?.authorization;
      if (typeof header !== "string") {
        return refuse(
          CLOSE_CODES.unauthorized,
          'Unauthorized: send connectionParams { authorization: "Bearer <JWT>" }',
        );
      }
      let claims: Claims;
      try {
        claims = await verifier.verify(bearerToken(header));
      } catch (error) {
        if (error instanceof TokenError) return refuse(CLOSE_CODES.unauthorized, `Invalid token: ${error.reason}`);
        if (error instanceof KeysUnavailableError) {
          log.error({ err: error }, "cannot verify tokens: no keys");
          return refuse(CLOSE_CODES.keysUnavailable, "The identity provider's keys are unavailable; retry shortly");
        }
        if (error instanceof RevocationsUnavailableError) {
          log.error({ err: error }, "cannot check token revocations");
          return refuse(CLOSE_CODES.keysUnavailable, "Cannot check the token right now; retry shortly");
        }
        log.error({ err: error }, "WebSocket token verification failed");
        return refuse(CLOSE_CODES.internalError, "An internal error occurred");
      }
      // The verifier allows clock skew on exp; an open socket ends at exp itself.
      if (claims.exp! * 1000 <= Date.now())
        return refuse(CLOSE_CODES.tokenExpired, "Token expired: reconnect with a fresh token");
      const quota = quotas.admit(claims.sub, () => Object.keys(ctx.subscriptions).length);
      if (!quota) {
        log.info({ sub: claims.sub }, "WebSocket refused: too many sockets");
        return refuse(
          CLOSE_CODES.tooManySockets,
          `Too many connections: at most ${socketsPerUser} sockets per user; close one first`,
        );
      }
      // The client may have gone while its token was being verified: its close has passed already.
      if (socket.readyState !== socket.OPEN) {
        quota.release();
        return false;
      }
      socket.once("close", () => quota.release());
      // connection_init is the user's first message: reconnecting is no way around the budget.
      if (!quota.takeMessage()) {
        log.info({ sub: claims.sub }, "WebSocket refused: too many messages");
        return refuse(CLOSE_CODES.tooManyMessages, tooManyMessages);
      }
      ctx.extra.quota = quota;
      ctx.extra.sub = claims.sub;
      ctx.extra.iat = claims.iat;
      ctx.extra.userKey = keyOf(claims);
      signedIn.add(ctx.extra);
      socket.once("close", () => signedIn.delete(ctx.extra));
      setIdentity(request, claims);
      closeAtExpiry(socket, claims.exp! * 1000);
      log.debug({ sub: claims.sub }, "WebSocket connected");
      return { expiresAt: claims.exp };
    },
    async onSubscribe(ctx, id, payload) {
      // graphql-ws counts this subscription in ctx.subscriptions already, and until it ends.
      if (ctx.extra.quota!.subscriptions() > subscriptionsPerUser) {
        return [
          limitExceeded(
            "subscriptions",
            `at most ${subscriptionsPerUser} subscriptions may run at once, over all of a user's sockets`,
          ),
        ];
      }
      const result = await base.onSubscribe!(ctx, id, payload);
      if (!result || !("document" in result)) return result; // refused already
      const operation = getOperationAST(result.document, result.operationName);
      if (operation?.operation !== "subscription") {
        return [
          new GraphQLError("this socket carries subscriptions only; send queries and mutations over HTTP", {
            extensions: errorExtensions("BAD_USER_INPUT"),
          }),
        ];
      }
      return result;
    },
  });

  function closeAtExpiry(socket: WebSocket, expiresAtMs: number) {
    // The client may have gone while its token was being verified: then there is nothing to time.
    if (socket.readyState !== socket.OPEN) return;
    let timer: NodeJS.Timeout;
    const arm = () => {
      const delay = expiresAtMs - Date.now();
      if (delay <= 0) return closeWith(socket, CLOSE_CODES.tokenExpired, "Token expired: reconnect with a fresh token");
      // unref: an open socket's timer must not keep a stopping process alive.
      timer = setTimeout(arm, Math.min(delay, MAX_TIMER_MS)).unref();
    };
    arm();
    socket.once("close", () => clearTimeout(timer));
  }

  function keepAlive(socket: WebSocket) {
    let answered = true;
    socket.on("pong", () => (answered = true));
    const timer = setInterval(() => {
      if (!answered) return socket.terminate();
      answered = false;
      socket.ping();
    }, KEEPALIVE_MS).unref();
    socket.once("close", () => clearInterval(timer));
  }

  wss.on("connection", (socket: WebSocket, request: IncomingMessage) => {
    keepAlive(socket);
    const extra: Extra = { socket, request };
    let unauthenticatedMessages = 0;
    /** Counted before graphql-ws parses anything: the budget bounds the work a flood can cause. */
    const admitMessage = (): boolean => {
      if (socket.readyState !== socket.OPEN) return false; // closing: the rest is not read
      const allowed = extra.quota ? extra.quota.takeMessage() : ++unauthenticatedMessages <= MESSAGES_BEFORE_AUTH;
      if (!allowed) {
        // info, not error: a client's excess, and one line per socket (the rest is not read).
        log.info({ sub: extra.sub }, "WebSocket closed: too many messages");
        closeWith(socket, CLOSE_CODES.tooManyMessages, tooManyMessages);
      }
      return allowed;
    };
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        send: (data) => new Promise((resolve, reject) => socket.send(data, (err) => (err ? reject(err) : resolve()))),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (callback) =>
          socket.on("message", async (data) => {
            if (!admitMessage()) return;
            try {
              await callback(data.toString());
            } catch (error) {
              // graphql-ws throws only on broken internals; the client gets no details.
              log.error({ err: error }, "WebSocket message failed");
              closeWith(socket, CLOSE_CODES.internalError, "An internal error occurred");
            }
          }),
      },
      extra,
    );
    socket.once("close", (code, reason) => void closed(code, reason.toString()));
  });

  return {
    handleUpgrade(request, socket, head) {
      if (closing || !serv.shouldHandleUpgrade(request, socket, head)) {
        socket.end(closing ? "HTTP/1.1 503 Service Unavailable\r\n\r\n" : "HTTP/1.1 404 Not Found\r\n\r\n");
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
    },
    close() {
      closing = true;
      for (const socket of wss.clients)
        closeWith(socket, CLOSE_CODES.goingAway, "The server is shutting down; reconnect");
      wss.close();
    },
    interrupt() {
      for (const socket of wss.clients) {
        closeWith(socket, CLOSE_CODES.listenerLost, "Live updates were interrupted; reconnect and refetch");
      }
    },
    closeRevoked(userKey, notBefore) {
      for (const extra of signedIn) {
        if (extra.userKey !== userKey || !isRevoked({ iat: extra.iat }, notBefore)) continue;
        log.info({ sub: extra.sub }, "WebSocket closed: token revoked");
        closeWith(extra.socket, CLOSE_CODES.unauthorized, "Token revoked: sign in again");
      }
    },
  };
}

/** Gives that ending a catalogue code (UNAVAILABLE) instead of an "unexpected" INTERNAL. */
function relabelInterruption(error: GraphQLError): GraphQLError {
  if (!error.originalError || !UPSTREAM.listenLost.pattern.test(error.originalError.message)) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    path: error.path,
    originalError: new ApiError(
      "UNAVAILABLE",
      "live updates were interrupted and events may have been missed; subscribe again",
    ),
  });
}
