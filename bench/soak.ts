/**
 * `npm run bench:soak`: many users mixing reads and writes against the API in
 * production mode for a while, reporting errors (target: none), latency and the
 * server's resident memory over time. Not part of CI.
 *
 *   SOAK_SECONDS       how long (default 60)
 *   SOAK_CONCURRENCY   concurrent users, each with its own token (default 16)
 *   AUTH_DATABASE_URL  a database to use; by default the embedded development one
 *
 * The API runs as its own process (`src/main.ts`), so its memory is measured apart
 * from this load generator's. Results go to bench/results/soak-<time>.json.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { SignJWT } from "jose";
import { startDevDatabase } from "../src/db/dev";
import { freePort } from "../src/db/embedded";
import { ROOT_DIR } from "../src/paths";

const seconds = Number(process.env.SOAK_SECONDS ?? 60);
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 16);

const READ_NEWEST = `query Newest { tasks(first: 20, orderBy: CREATED_AT_DESC) { nodes { rowId title completed dueAt } } }`;
const READ_DASHBOARD = `query Dashboard($now: Datetime!) {
  all: tasks { totalCount byPriority: groupedAggregates(groupBy: PRIORITY) { keys distinctCount { rowId } } }
  overdue: tasks(filter: { completed: { equalTo: false }, dueAt: { lessThan: $now } }) { totalCount }
}`;
const CREATE = `mutation Create($title: String!, $dueAt: Datetime) { createTask(input: { task: { title: $title, dueAt: $dueAt, priority: MEDIUM } }) { task { rowId } } }`;
const COMPLETE = `mutation Complete($rowId: UUID!) { updateTask(input: { rowId: $rowId, patch: { completed: true } }) { task { rowId } } }`;

const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function main(): Promise<void> {
  let stopDatabase = async () => {};
  let authUrl = process.env.AUTH_DATABASE_URL;
  if (!authUrl) {
    const db = await startDevDatabase(Number(process.env.EMBEDDED_PG_PORT ?? 54329), (line) =>
      process.stderr.write(`${line}\n`),
    );
    authUrl = db.authUrl;
    stopDatabase = db.stop;
  }
  const secret = randomBytes(32).toString("base64url");
  const port = await freePort();
  // Node itself with tsx's loader (not the tsx CLI, which would be a parent process): the pid is the server's.
  const server = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: ROOT_DIR,
    env: {
      ...process.env,
      NODE_ENV: "production",
      AUTH_DATABASE_URL: authUrl,
      JWT_SECRET: secret,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      RATE_LIMIT_USER_PER_MINUTE: "10000000",
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: "10000000",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      (await fetch(`${url}/health/ready`)
        .then((r) => r.status)
        .catch(() => 0)) === 200
    )
      break;
    if (i > 300) throw new Error("the API did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const memory: Array<{ second: number; rssBytes: number }> = [];
  const started = Date.now();
  const until = started + seconds * 1000;
  const sampler = setInterval(
    () => memory.push({ second: Math.round((Date.now() - started) / 1000), rssBytes: rssOf(server.pid!) }),
    5000,
  );

  const worker = async (n: number) => {
    const key = new TextEncoder().encode(secret);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(`soak-${n}-${randomBytes(4).toString("hex")}`)
      .setIssuedAt()
      .setExpirationTime("2h")
      .sign(key);
    const open: string[] = [];
    for (let i = 0; Date.now() < until; i++) {
      const roll = i % 10;
      const [query, variables] =
        roll < 4
          ? [READ_NEWEST, {}]
          : roll < 7
            ? [READ_DASHBOARD, { now: new Date().toISOString() }]
            : roll < 9 || open.length === 0
              ? [CREATE, { title: `task ${i}`, dueAt: new Date(Date.now() + ((i % 5) - 2) * 86_400_000).toISOString() }]
              : [COMPLETE, { rowId: open.shift() }];
      const t0 = performance.now();
      try {
        const response = await fetch(`${url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ query, variables }),
        });
        const body = (await response.json()) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> };
        latencies.push(performance.now() - t0);
        if (body.errors) {
          const code = body.errors[0]?.extensions?.code ?? `HTTP ${response.status}`;
          errors[code] = (errors[code] ?? 0) + 1;
        } else if (query === CREATE) {
          open.push(body.data.createTask.task.rowId);
        }
      } catch (error) {
        errors[(error as Error).message] = (errors[(error as Error).message] ?? 0) + 1;
      }
    }
  };
  memory.push({ second: 0, rssBytes: rssOf(server.pid!) });
  await Promise.all(Array.from({ length: concurrency }, (_, n) => worker(n)));
  clearInterval(sampler);
  memory.push({ second: Math.round((Date.now() - started) / 1000), rssBytes: rssOf(server.pid!) });
  server.kill("SIGTERM");
  await new Promise((resolve) => server.once("exit", resolve));
  await stopDatabase();

  const sorted = [...latencies].sort((a, b) => a - b);
  // Growth is measured after warm-up (the first third of the run: V8 grows its heap in
  // steps for the first ~45 s under load, then holds), not from an idle process.
  const warm = memory.find((m) => m.second >= seconds / 3) ?? memory[0]!;
  const last = memory.at(-1)!;
  const result = {
    at: new Date().toISOString(),
    seconds,
    concurrency,
    requests: latencies.length,
    requestsPerSecond: Math.round(latencies.length / seconds),
    p50Ms: Number(percentile(sorted, 50).toFixed(2)),
    p99Ms: Number(percentile(sorted, 99).toFixed(2)),
    errors,
    memory,
    rssGrowthAfterWarmupPercent: Number((((last.rssBytes - warm.rssBytes) / warm.rssBytes) * 100).toFixed(1)),
  };
  const file = path.join(ROOT_DIR, "bench", "results", `soak-${result.at.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
  process.stdout.write(
    `soak: ${result.requests} requests in ${seconds} s (${result.requestsPerSecond}/s) by ${concurrency} users; ` +
      `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms; errors ${JSON.stringify(errors)}; ` +
      `RSS ${(warm.rssBytes / 2 ** 20).toFixed(0)} → ${(last.rssBytes / 2 ** 20).toFixed(0)} MiB ` +
      `(${result.rssGrowthAfterWarmupPercent}% after warm-up)\nwrote ${path.relative(process.cwd(), file)}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
