import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Pool } from "pg";
import { makePool } from "../../src/db/pool";
import { makeApp, type App } from "../../src/app";
import { makeTokenVerifier } from "../../src/auth/jwt";
import type { JwtConfig } from "../../src/config";
import { loadConfig } from "../../src/config";
import { makeLogger } from "../../src/logger";
import { testDb } from "./env";
import { userJwt } from "./tokens";

export interface GraphQLResponse {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, any> | null;
    errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, any> }>;
  };
}

export interface TestApi {
  url: string;
  pool: Pool;
  /** The LISTEN connection's own pool (live updates and revocation cut-offs). */
  listenPool: Pool;
  /** The LISTEN connection's application_name, unique to this API: finds its backend in pg_stat_activity. */
  listenerName: string;
  /** Connections the API's pool handed out (its 'acquire' events). */
  connections(): number;
  /** Log lines the API wrote, parsed. */
  logs: Array<Record<string, any>>;
  graphql(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResponse>;
  close(): Promise<void>;
  /** The production shutdown path: app.close({ drainMs, graceMs }), then the pool. */
  closeGracefully(options: { drainMs: number; graceMs: number }): Promise<void>;
}

export { jwtConfigFor as jwtConfig } from "../../src/config";

export interface ApiOptions {
  /** The token rules; by default HS256 with the secret newUser() signs with. */
  jwt?: JwtConfig;
  production?: boolean;
  poolSize?: number;
  /** Connect somewhere else than the test database directly (e.g. through PgBouncer). */
  authUrl?: string;
  /** Where the LISTEN connection goes (LISTEN_DATABASE_URL); by default `authUrl`. Never a transaction pooler. */
  listenUrl?: string;
  /** Overrides of the environment's defaults, e.g. { MAX_PAGE_SIZE: "5" }. */
  env?: Record<string, string>;
}

/** The real API (makeApp) on an ephemeral loopback port, connected as the authenticator. */
export async function startApi(options: ApiOptions = {}): Promise<TestApi> {
  const authUrl = options.authUrl ?? testDb.authUrl;
  const env = {
    // Rate limits are tested on their own; elsewhere they would only get in the way of load.
    RATE_LIMIT_USER_PER_MINUTE: "10000000",
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: "10000000",
    RATE_LIMIT_ROWS_PER_MINUTE: "1000000000000",
    // Production's own defaults, from the same loadConfig that main.ts uses; the key itself comes from options.jwt.
    ...(options.production ? { NODE_ENV: "production", AUTH_DATABASE_URL: authUrl, JWT_SECRET: "x".repeat(32) } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const logs: Array<Record<string, any>> = [];
  const log = makeLogger({ level: "debug", destination: { write: (line: string) => logs.push(JSON.parse(line)) } });
  const pool = makePool(authUrl, { size: options.poolSize ?? 4, acquireTimeoutMs: config.poolTimeoutMs }, log);
  // Counts every connection the API takes from its pool: a rejected token must never take one.
  let acquired = 0;
  pool.on("acquire", () => (acquired += 1));
  const verifier = makeTokenVerifier(options.jwt ?? userJwt(), log);
  // As the server does: a remote key set loads now and refreshes in the background until close.
  await verifier.keys.start(() => {});
  // As in production (server.ts): the LISTEN connection has a pool of its own, outside any pooler.
  // Named, so a test can find (and kill) this API's listener among every other test API's.
  const listenerName = `tasks-api-listener-${randomUUID()}`;
  const listenUrl = new URL(options.listenUrl ?? authUrl);
  listenUrl.searchParams.set("application_name", listenerName);
  const listenPool = makePool(listenUrl.toString(), { size: 1, acquireTimeoutMs: config.poolTimeoutMs }, log);
  const app: App = await makeApp({ config, pool, listenPool, verifier, log });
  await new Promise<void>((resolve) => app.server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    pool,
    listenPool,
    listenerName,
    logs,
    connections: () => acquired,
    async graphql(query, variables, { token, headers = {} } = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      return {
        status: response.status,
        headers: response.headers,
        body: (await response.json()) as GraphQLResponse["body"],
      };
    },
    async close() {
      verifier.keys.stop();
      await app.close();
      await Promise.all([pool.end(), listenPool.end()]);
    },
    async closeGracefully(options) {
      verifier.keys.stop();
      await app.close(options);
      await Promise.all([pool.end(), listenPool.end()]);
    },
  };
}
