/**
 * The floor: the endpoint a competent developer would write by hand for the same
 * job — Express, jose and a pg pool, no GraphQL. It verifies the same token the same
 * way (HS256, exp required, a string sub), then runs the scenario's SQL (the text the
 * API sends, from scenarios.ts) in one transaction with the same transaction-local
 * settings, as named prepared statements like PostGraphile's. Configured by the
 * same src/config.ts as the API (NODE_ENV=production, AUTH_DATABASE_URL, JWT_SECRET,
 * DATABASE_POOL_SIZE, PORT, HOST).
 *
 *   POST /scenario/<index>   body {"variables": {…}} as the GraphQL request would carry
 */
import express, { type Request, type Response } from "express";
import { jwtVerify, type JWTPayload } from "jose";
import { Pool } from "pg";
import { loadConfig } from "../src/config";
import { makeLogger } from "../src/logger";
import { SCENARIOS } from "./scenarios";

const config = loadConfig(process.env);
const log = makeLogger({ level: process.env.LOG_LEVEL });
if (config.jwt?.source.kind !== "secret" || !config.authDatabaseUrl) {
  throw new Error("the floor needs JWT_SECRET and AUTH_DATABASE_URL");
}
const key = new TextEncoder().encode(config.jwt.source.secret);
// jit_optimize_above_cost: the setting @dataplan/pg gives its connections, so both plan alike.
const pool = new Pool({
  connectionString: config.authDatabaseUrl,
  max: config.poolSize,
  options: "-c jit_optimize_above_cost=-1",
});
pool.on("error", (error) => log.warn({ err: error }, "idle database connection failed"));

const unauthorized = (res: Response) =>
  res.status(401).json({ errors: [{ message: "Invalid token", extensions: { code: "UNAUTHENTICATED" } }] });

async function verify(req: Request): Promise<JWTPayload | undefined> {
  const match = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!match) return undefined;
  try {
    const { payload } = await jwtVerify(match[1]!, key, {
      algorithms: ["HS256"],
      requiredClaims: ["exp"],
      clockTolerance: config.jwt!.clockToleranceSeconds,
    });
    return typeof payload.sub === "string" && payload.sub.length > 0 ? payload : undefined;
  } catch {
    return undefined;
  }
}

const app = express();
app.disable("x-powered-by");
app.get("/health/ready", (_req, res) => void res.sendStatus(200));
app.post("/scenario/:index", express.json({ limit: config.limits.bodyBytes }), async (req: Request, res: Response) => {
  const index = Number(req.params.index);
  const scenario = SCENARIOS[index];
  if (!scenario) return void res.sendStatus(404);
  const claims = await verify(req);
  if (!claims) return void unauthorized(res);
  const variables = (req.body as { variables?: Record<string, unknown> })?.variables ?? {};
  const client = await pool.connect();
  try {
    await client.query("begin");
    await client.query(
      "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('statement_timeout', $3, true)",
      [config.roles.user, JSON.stringify(claims), String(config.statementTimeoutMs)],
    );
    const data: unknown[] = [];
    for (const [i, statement] of scenario.sql.entries()) {
      const result = await client.query({
        name: `s${index}_${i}`,
        text: statement.text,
        values: statement.params(variables),
      });
      data.push(result.rows);
    }
    await client.query("commit");
    res.json({ data });
  } catch (error) {
    await client.query("rollback").catch(() => {});
    log.error({ err: error }, "floor request failed");
    res.status(500).json({ errors: [{ message: "An internal error occurred", extensions: { code: "INTERNAL" } }] });
  } finally {
    client.release();
  }
});

async function main(): Promise<void> {
  await pool.query("select 1");
  const server = app.listen(config.port, config.host);
  server.keepAliveTimeout = config.http.keepAliveTimeoutMs;
  const stop = () => server.close(() => void pool.end().then(() => process.exit(0)));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, "the floor failed to start");
  process.exit(1);
});
