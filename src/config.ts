/**
 * All configuration, read from the environment and validated in one place.
 * The entry points (src/launch.ts) and the tools call `loadConfig`; the server's
 * modules receive the typed `Config`.
 */
import { existsSync } from "node:fs";
import { discoveryUrl, issuerProblem } from "./auth/discovery";
import { roleNames, type RoleNames } from "./db/roles";
import type { WebSocketLimits } from "./realtime/quotas";

export type JwtKeySource =
  | { kind: "secret"; secret: string }
  | { kind: "publicKey"; key: string }
  | { kind: "jwks"; url: URL }
  /** JWT_ISSUER alone: the key set named by `<issuer>/.well-known/openid-configuration` (auth/discovery.ts). */
  | { kind: "discovery"; issuer: string; url: URL };

export interface JwtConfig {
  source: JwtKeySource;
  /** Narrows the algorithms the key type allows; never widens them. */
  algorithms: string[] | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  clockToleranceSeconds: number;
  /** JWKS: the longest time between two background refreshes (a provider's Cache-Control may ask for sooner). */
  jwksMaxAgeSeconds: number;
  /** JWKS: the least time between two fetches (an unknown kid triggers one). */
  jwksCooldownSeconds: number;
  /** Verified tokens kept (auth/tokenCache.ts); 0 verifies every request afresh. */
  cacheSize: number;
  /** Longest a verified token is trusted without a fresh check (bounds a removed key's afterlife). */
  cacheMaxAgeSeconds: number;
}

/** A JwtConfig with the documented defaults; used for the development secret and by tests. */
export function jwtConfigFor(source: JwtKeySource, overrides: Partial<JwtConfig> = {}): JwtConfig {
  return {
    source,
    algorithms: undefined,
    issuer: source.kind === "discovery" ? source.issuer : undefined,
    audience: undefined,
    clockToleranceSeconds: 30,
    jwksMaxAgeSeconds: 600,
    jwksCooldownSeconds: 30,
    cacheSize: 10_000,
    cacheMaxAgeSeconds: 60,
    ...overrides,
  };
}

/** The development Postgres's loopback port, shared by `npm start` and the db:* tools. */
export const DEFAULT_EMBEDDED_PORT = 54329;

export interface Config {
  production: boolean;
  host: string;
  port: number;
  /** The authenticator's connection; undefined means "start the embedded Postgres". */
  authDatabaseUrl: string | undefined;
  /**
   * The connection that LISTENs for live updates (a session of its own, so it must
   * bypass a transaction-mode pooler); undefined means AUTH_DATABASE_URL.
   */
  listenDatabaseUrl: string | undefined;
  /** Port of the embedded development Postgres; undefined: the one this clone used last, else 54329, else a free one. */
  embeddedPort: number | undefined;
  /** Size of the API's connection pool. */
  poolSize: number;
  /** Longest wait for a free pool connection, in milliseconds (then 503). */
  poolTimeoutMs: number;
  /** Per-statement time limit for request transactions, in milliseconds. */
  statementTimeoutMs: number;
  limits: {
    /** Largest request body, bytes (413 above). */
    bodyBytes: number;
    /** Largest request head, bytes (Node answers 431 above). */
    headerBytes: number;
    depth: number;
    aliases: number;
    directives: number;
    // Issue 12, bounded connections and cost (graphql/cost.ts, graphql/defaultPage.ts):
    /** Largest `first`/`last`. */
    pageSize: number;
    /** The page of a connection asked for without `first` or `last`. */
    defaultPageSize: number;
    /** Most rows one operation may read, worst case: pages multiplied along nesting, summed. */
    cost: number;
    /** The same for each event of a subscription (every change reruns every subscription). */
    subscriptionCost: number;
  };
  http: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** After SIGTERM: how long to keep serving while readiness reports 503 (let the load balancer notice). */
    shutdownDrainMs: number;
    /** Then: how long requests in flight may run on before their sockets are closed. */
    shutdownGraceMs: number;
  };
  /** Per minute: requests per signed-in user (by sub) and per IP address for anonymous requests. */
  /** Requests, and worst-case rows read (graphql/rowBudget.ts), per caller per minute. */
  rateLimits: { userPerMinute: number; anonymousPerMinute: number; rowsPerMinute: number };
  /** Issue 12, WebSocket limits per user (by sub): sockets, subscriptions, messages (realtime/quotas.ts). */
  websocket: WebSocketLimits;
  /** Origins allowed by CORS: a list, "*" for any, or none (same-origin only). */
  corsOrigins: string[] | "*" | "reflect" | undefined;
  /** Express's `trust proxy`: how many proxies (load balancers) sit in front, for the client's IP. */
  trustProxy: number;
  /** Expose /metrics (Prometheus). */
  metrics: boolean;
  /** Send Server-Timing (auth, db, total) on responses. */
  serverTiming: boolean;
  /** When set, only the documents in this folder may run (graphql/trustedDocuments.ts). */
  trustedDocumentsDir: string | undefined;
  /** undefined only in development: the generated development secret is used then. */
  jwt: JwtConfig | undefined;
  roles: RoleNames;
  // Issue 12, fair share and response size (db/fairShare.ts, graphql/response.ts).
  fairShare: {
    /** Pool connections one caller (a `sub`, or an anonymous address) may hold at once; undefined: a third of the pool, at least 1. */
    connectionsPerUser: number | undefined;
    /** Longest wait for a place in the caller's share, in milliseconds (then 429 RATE_LIMITED). */
    waitMs: number;
  };
  /** Largest GraphQL response or subscription event, in bytes of JSON (then LIMIT_EXCEEDED). */
  maxResponseBytes: number;
}

/** What the HTTP app and the GraphQL preset need; tests build it from loadConfig({}). */
export type AppConfig = Pick<
  Config,
  | "production"
  | "roles"
  | "statementTimeoutMs"
  | "limits"
  | "http"
  | "rateLimits"
  | "websocket"
  | "corsOrigins"
  | "trustProxy"
  | "metrics"
  | "serverTiming"
  | "trustedDocumentsDir"
  | "fairShare"
  | "maxResponseBytes"
>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const MIN_SECRET_BYTES = 32;

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const postgresUrl = (name: string): string | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    try {
      const url = new URL(raw);
      if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw new Error("not postgres");
      return raw;
    } catch {
      problems.push(`${name} must be a postgres:// connection string`);
      return undefined;
    }
  };

  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (["true", "1", "yes", "on"].includes(raw)) return true;
    if (["false", "0", "no", "off"].includes(raw)) return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  };
  const directory = (name: string): string | undefined => {
    const raw = text(name);
    if (raw !== undefined && !existsSync(raw)) problems.push(`${name} must be an existing folder, got "${raw}"`);
    return raw;
  };

  const nodeEnv = text("NODE_ENV") ?? "development";
  const production = nodeEnv === "production";
  const authDatabaseUrl = postgresUrl("AUTH_DATABASE_URL");
  if (production && !authDatabaseUrl) {
    problems.push("AUTH_DATABASE_URL is required in production (the authenticator's connection string)");
  }

  const jwt = loadJwtConfig(text, integer, problems);
  if (production && !jwt) {
    problems.push("one of JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL or JWT_ISSUER (discovery) is required in production");
  }

  const maxPageSize = integer("MAX_PAGE_SIZE", 100, 1, 10_000);
  const config: Config = {
    production,
    host: text("HOST") ?? (production ? "0.0.0.0" : "127.0.0.1"),
    port: integer("PORT", 3000, 0, 65535),
    authDatabaseUrl,
    listenDatabaseUrl: postgresUrl("LISTEN_DATABASE_URL"),
    embeddedPort:
      text("EMBEDDED_PG_PORT") === undefined ? undefined : integer("EMBEDDED_PG_PORT", DEFAULT_EMBEDDED_PORT, 1, 65535),
    poolSize: integer("DATABASE_POOL_SIZE", 10, 1, 1000),
    poolTimeoutMs: integer("DATABASE_POOL_TIMEOUT_MS", 3000, 100, 60_000),
    statementTimeoutMs: integer("STATEMENT_TIMEOUT_MS", 5000, 1, 600_000),
    limits: {
      bodyBytes: integer("MAX_BODY_BYTES", 100_000, 1_000, 10_000_000),
      headerBytes: integer("MAX_HEADER_BYTES", 16_384, 4_096, 65_536),
      depth: integer("MAX_QUERY_DEPTH", 10, 2, 100),
      aliases: integer("MAX_ALIASES", 15, 0, 1_000),
      directives: integer("MAX_DIRECTIVES", 20, 0, 1_000),
      // Issue 12, bounded connections and cost: see docs/graphql.md#limits for why these numbers.
      pageSize: maxPageSize,
      // Unset, it follows a smaller MAX_PAGE_SIZE down; set, it may not exceed it (checked below).
      defaultPageSize: integer("DEFAULT_PAGE_SIZE", Math.min(100, maxPageSize), 1, 10_000),
      cost: integer("MAX_QUERY_COST", 20_000, 1, 100_000_000),
      subscriptionCost: integer("MAX_SUBSCRIPTION_COST", 1_000, 1, 100_000_000),
    },
    http: {
      headersTimeoutMs: integer("HTTP_HEADERS_TIMEOUT_MS", 10_000, 1_000, 120_000),
      requestTimeoutMs: integer("HTTP_REQUEST_TIMEOUT_MS", 30_000, 1_000, 600_000),
      keepAliveTimeoutMs: integer("HTTP_KEEP_ALIVE_TIMEOUT_MS", 5_000, 1_000, 600_000),
      shutdownDrainMs: integer("SHUTDOWN_DRAIN_MS", 0, 0, 600_000),
      shutdownGraceMs: integer("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    },
    rateLimits: {
      userPerMinute: integer("RATE_LIMIT_USER_PER_MINUTE", 1200, 1, 10_000_000),
      anonymousPerMinute: integer("RATE_LIMIT_ANONYMOUS_PER_MINUTE", 300, 1, 10_000_000),
      rowsPerMinute: integer("RATE_LIMIT_ROWS_PER_MINUTE", 120_000, 1, 1_000_000_000_000),
    },
    // Issue 12, WebSocket limits per user: sockets, subscriptions across them, messages per interval.
    websocket: {
      socketsPerUser: integer("WS_MAX_SOCKETS_PER_USER", 5, 1, 1_000),
      subscriptionsPerUser: integer("WS_MAX_SUBSCRIPTIONS_PER_USER", 20, 1, 10_000),
      messagesPerInterval: integer("WS_MESSAGES_PER_INTERVAL", 30, 1, 100_000),
      messageIntervalMs: integer("WS_MESSAGE_INTERVAL_MS", 10_000, 100, 3_600_000),
    },
    corsOrigins: corsOrigins(text("CORS_ORIGINS"), production),
    trustProxy: integer("TRUST_PROXY", 0, 0, 10),
    metrics: boolean("METRICS", true),
    serverTiming: boolean("SERVER_TIMING", !production),
    trustedDocumentsDir: directory("TRUSTED_DOCUMENTS_DIR"),
    jwt,
    roles: roleNames(),
    // Issue 12, fair share and response size.
    fairShare: {
      connectionsPerUser:
        text("DATABASE_CONNECTIONS_PER_USER") === undefined
          ? undefined
          : integer("DATABASE_CONNECTIONS_PER_USER", 1, 1, 1000),
      waitMs: integer("DATABASE_SHARE_WAIT_MS", 2000, 0, 60_000),
    },
    maxResponseBytes: integer("MAX_RESPONSE_BYTES", 5_000_000, 1_000, 1_000_000_000),
  };
  const perUser = config.fairShare.connectionsPerUser;
  if (perUser !== undefined && perUser > config.poolSize) {
    problems.push(`DATABASE_CONNECTIONS_PER_USER (${perUser}) must not exceed DATABASE_POOL_SIZE (${config.poolSize})`);
  }
  if (config.limits.defaultPageSize > config.limits.pageSize) {
    problems.push("DEFAULT_PAGE_SIZE must not be larger than MAX_PAGE_SIZE");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Unset: any origin in development (reflected), none in production. */
function corsOrigins(raw: string | undefined, production: boolean): Config["corsOrigins"] {
  if (raw === undefined) return production ? undefined : "reflect";
  if (raw === "*") return "*";
  return raw
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean);
}

function loadJwtConfig(
  text: (name: string) => string | undefined,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): JwtConfig | undefined {
  // Identity (issue 13): one key source; JWT_ISSUER alone means OpenID Connect discovery.
  const secret = text("JWT_SECRET");
  const publicKey = text("JWT_PUBLIC_KEY");
  const jwksUrl = text("JWKS_URL");
  const issuer = text("JWT_ISSUER");
  const given = [secret && "JWT_SECRET", publicKey && "JWT_PUBLIC_KEY", jwksUrl && "JWKS_URL"].filter(Boolean);
  if (given.length > 1) {
    problems.push(`set only one of JWT_SECRET, JWT_PUBLIC_KEY and JWKS_URL (got ${given.join(", ")})`);
    return undefined;
  }
  let source: JwtKeySource | undefined;
  if (secret) {
    if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
      problems.push(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes long`);
    }
    source = { kind: "secret", secret };
  } else if (publicKey) {
    source = { kind: "publicKey", key: publicKey };
  } else if (jwksUrl) {
    try {
      const url = new URL(jwksUrl);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
      source = { kind: "jwks", url };
    } catch {
      problems.push("JWKS_URL must be an http(s) URL");
    }
  } else if (issuer) {
    // Kept exactly as given: tokens' iss and the document's issuer must equal it character for character.
    const problem = issuerProblem(issuer);
    if (problem) problems.push(problem);
    else source = { kind: "discovery", issuer, url: discoveryUrl(issuer) };
  }
  if (!source) return undefined;
  const algorithms = text("JWT_ALGORITHMS")
    ?.split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  const defaults = jwtConfigFor(source);
  return {
    source,
    algorithms: algorithms?.length ? algorithms : undefined,
    issuer,
    audience: text("JWT_AUDIENCE"),
    clockToleranceSeconds: integer("JWT_CLOCK_TOLERANCE", defaults.clockToleranceSeconds, 0, 300),
    jwksMaxAgeSeconds: integer("JWKS_MAX_AGE", defaults.jwksMaxAgeSeconds, 1, 86400),
    jwksCooldownSeconds: integer("JWKS_COOLDOWN", defaults.jwksCooldownSeconds, 0, 3600),
    cacheSize: integer("TOKEN_CACHE_SIZE", defaults.cacheSize, 0, 1_000_000),
    cacheMaxAgeSeconds: integer("TOKEN_CACHE_MAX_AGE", defaults.cacheMaxAgeSeconds, 1, 3600),
  };
}
