/**
 * `npm run bench:fairness -- [--seconds 20] [--rounds 1]` — issue 12's benchmark: one user's
 * worst allowed load against another user's reads (fairnessWorkload.ts, the same workload as
 * test/security/fairness.test.ts, run longer).
 *
 * Starts (or reuses) the bench Postgres, a small database of its own (bench_fairness: the hog's
 * 150 tasks in one list, the bystander's 5), the API in production mode in a child process, and
 * the hog in another. Each round: the bystander alone, then with the hog. Writes
 * bench/results/fairness.json and .md (also printed): the bystander's p50/p99 with and without
 * the hog, and the hog's outcomes by code. Not part of CI: benchmarks are not tests.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { Client } from "pg";
import { loadConfig } from "../src/config";
import { ROOT_DIR } from "../src/paths";
import { startBenchDatabase } from "./database";
import {
  BYSTANDER_INTERVAL_MS,
  bystanderPhase,
  describeCounts,
  productionRateLimits,
  seedFairness,
  type BystanderResult,
  type Counts,
  type FairnessUser,
  type HogResult,
} from "./fairnessWorkload";
import { describeCommit, describeMachine } from "./report";
import { startServer, type Server } from "./servers";
import { percentile } from "./stats";
import { benchSecret } from "./users";

/** Issue 12's bound: the bystander's p50 with the hog at most this many times its p50 alone. */
const TARGET_RATIO = 3;

function options() {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "20" },
      rounds: { type: "string", default: "1" },
      "pool-size": { type: "string", default: String(loadConfig({}).poolSize) },
      "hog-tasks": { type: "string", default: "150" },
      concurrency: { type: "string", default: "12" },
      sockets: { type: "string", default: "6" },
      subscriptions: { type: "string", default: "20" },
      "log-level": { type: "string", default: "warn" },
      port: { type: "string", default: process.env.BENCH_PG_PORT ?? "54339" },
      out: { type: "string", default: "fairness" },
    },
  });
  const number = (name: Exclude<keyof typeof values, "log-level" | "out">) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number ≥ 0`);
    return value;
  };
  return {
    seconds: number("seconds"),
    rounds: number("rounds"),
    poolSize: number("pool-size"),
    hogTasks: number("hog-tasks"),
    concurrency: number("concurrency"),
    sockets: number("sockets"),
    subscriptions: number("subscriptions"),
    logLevel: String(values["log-level"]),
    port: number("port"),
    out: String(values.out),
  };
}

const say = (line: string) => process.stderr.write(`${line}\n`);

async function user(secret: string, sub: string): Promise<FairnessUser> {
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("6h")
    .sign(new TextEncoder().encode(secret));
  return { sub, token };
}

/** Latency figures over every round's requests together. */
function pooled(rounds: BystanderResult[]) {
  const sorted = rounds.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const errorCounts: Counts = {};
  for (const r of rounds)
    for (const [k, n] of Object.entries(r.errorCounts)) errorCounts[k] = (errorCounts[k] ?? 0) + n;
  return {
    requests: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? 0,
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    errorCounts,
  };
}

function addCounts(into: Counts, from: Counts) {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

function mergeHog(results: HogResult[]): HogResult {
  const merged: HogResult = { http: {}, byAttack: {}, sockets: {}, subscriptions: {}, events: {} };
  for (const r of results) {
    addCounts(merged.http, r.http);
    for (const [attack, counts] of Object.entries(r.byAttack)) addCounts((merged.byAttack[attack] ??= {}), counts);
    addCounts(merged.sockets, r.sockets);
    addCounts(merged.subscriptions, r.subscriptions);
    addCounts(merged.events, r.events);
  }
  return merged;
}

async function main(): Promise<void> {
  const opts = options();
  const config = loadConfig({});
  const db = await startBenchDatabase(opts.port, "bench_fairness");
  const servers: Server[] = [];
  const cleanUp = async () => {
    for (const server of servers.splice(0)) await server.stop().catch(() => {});
    await db.stop();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  try {
    const secret = benchSecret();
    const hog = await user(secret, "fairness-hog");
    const bystander = await user(secret, "fairness-bystander");
    const seed = await seedFairness(db.superuserUrl, hog, bystander, { hogTasks: opts.hogTasks, bystanderTasks: 5 });
    const admin = new Client({ connectionString: db.superuserUrl });
    await admin.connect();
    const postgres = (await admin.query<{ version: string }>("select version()")).rows[0]!.version;
    await admin.end();

    const api = await startServer("api", {
      authUrl: db.authUrl,
      secret,
      poolSize: opts.poolSize,
      logLevel: opts.logLevel,
      env: productionRateLimits(config.rateLimits),
    });
    servers.push(api);
    const reads = { url: api.url, user: bystander, intervalMs: BYSTANDER_INTERVAL_MS };
    await bystanderPhase({ ...reads, seconds: 2 }); // warm-up: plans made once

    const alone: BystanderResult[] = [];
    const withHog: BystanderResult[] = [];
    const hogResults: HogResult[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const a = (await bystanderPhase({ ...reads, seconds: opts.seconds })).bystander;
      alone.push(a);
      say(
        `round ${round}/${opts.rounds} alone: p50 ${a.p50Ms.toFixed(1)} ms, p99 ${a.p99Ms.toFixed(1)} ms, errors ${a.errors}`,
      );
      const w = await bystanderPhase({
        ...reads,
        seconds: opts.seconds,
        hog: {
          user: hog,
          seed,
          limits: config.limits,
          concurrency: opts.concurrency,
          ratePerSecond: config.rateLimits.userPerMinute / 60,
          sockets: opts.sockets,
          subscriptionsPerSocket: opts.subscriptions,
        },
      });
      withHog.push(w.bystander);
      hogResults.push(w.hog!);
      say(
        `round ${round}/${opts.rounds} with hog: p50 ${w.bystander.p50Ms.toFixed(1)} ms, p99 ${w.bystander.p99Ms.toFixed(1)} ms, ` +
          `errors ${w.bystander.errors} (${describeCounts(w.bystander.errorCounts)}); hog http: ${describeCounts(w.hog!.http)}`,
      );
      // What the hog left running in the database (up to the statement timeout) must not count against the next phase.
      await new Promise((resolve) => setTimeout(resolve, config.statementTimeoutMs + 1000));
    }

    const results = {
      at: new Date().toISOString(),
      machine: describeMachine(postgres),
      commit: describeCommit(),
      settings: { ...opts, statementTimeoutMs: config.statementTimeoutMs, limits: config.limits },
      bystander: { alone: pooled(alone), withHog: pooled(withHog) },
      rounds: alone.map((a, i) => ({
        alone: { ...a, latenciesMs: undefined },
        withHog: { ...withHog[i]!, latenciesMs: undefined },
      })),
      hog: mergeHog(hogResults),
    };
    const markdown = renderMarkdown(results);
    // A bare name lands in bench/results/; a path (e.g. /tmp/x) elsewhere, for runs not to commit.
    const base = path.resolve(ROOT_DIR, "bench", "results", opts.out);
    writeFileSync(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
    writeFileSync(`${base}.md`, markdown);
    process.stdout.write(markdown);
    say(`wrote ${path.relative(process.cwd(), base)}.json and .md`);
  } finally {
    await cleanUp();
  }
}

type Results = {
  at: string;
  machine: Record<string, string>;
  commit: string;
  settings: ReturnType<typeof options> & { statementTimeoutMs: number; limits: unknown };
  bystander: { alone: ReturnType<typeof pooled>; withHog: ReturnType<typeof pooled> };
  hog: HogResult;
};

function renderMarkdown(r: Results): string {
  const f = (n: number) => n.toFixed(1);
  const { alone, withHog } = r.bystander;
  const ratio = withHog.p50Ms / alone.p50Ms;
  const ok = withHog.errors === 0 && ratio <= TARGET_RATIO;
  const s = r.settings;
  const row = (name: string, b: typeof alone) =>
    `| ${name} | ${b.requests} | ${f(b.p50Ms)} | ${f(b.p99Ms)} | ${f(b.maxMs)} | ${b.errors}${b.errors ? ` (${describeCounts(b.errorCounts)})` : ""} |`;
  const attacks = Object.entries(r.hog.byAttack).map(([attack, counts]) => `| ${attack} | ${describeCounts(counts)} |`);
  return [
    `# Fairness (issue 12) — ${r.at}`,
    "",
    `Commit ${r.commit}. Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memory}, ${r.machine.os}, Node ${r.machine.node}, ${r.machine.postgres}.`,
    "",
    `The hog (its own process): up to ${s.concurrency} HTTP requests in flight, sent at the maximum allowed rate (the per-user`,
    `rate limit spread over its minute), cycling through the widest read the cost budget accepts, the nested, aliased`,
    `(${(r.settings.limits as { aliases: number }).aliases} aliases) and max-\`first\` attacks and \`updateTask\`;`,
    `${s.sockets} sockets × ${s.subscriptions} \`taskChanged\` subscriptions (half the heaviest accepted, half refused ones), re-subscribing and re-connecting when refused;`,
    `${s.hogTasks} tasks in one list; it ignores every Retry-After. The bystander: one request at a time, at most one`,
    `per ${BYSTANDER_INTERVAL_MS} ms, alternating \`{ currentUserId tasks { totalCount } }\` and a page of 5 tasks. The API in`,
    `production mode with production's limits (request rate included), pool ${s.poolSize}. ${s.rounds} round(s) of ${s.seconds} s per phase.`,
    "",
    "## Bystander",
    "",
    "| phase | requests | p50 ms | p99 ms | max ms | errors |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
    row("alone", alone),
    row("with the hog", withHog),
    "",
    `p50 with the hog / alone: **${f(ratio)}×** (target ≤ ${TARGET_RATIO}×, 0 errors): ${ok ? "✓" : "✗"}`,
    "",
    "## Hog outcomes",
    "",
    `HTTP: ${describeCounts(r.hog.http)}`,
    "",
    "| attack | outcomes |",
    "| --- | --- |",
    ...attacks,
    "",
    `Sockets: ${describeCounts(r.hog.sockets)}. Subscriptions: ${describeCounts(r.hog.subscriptions)}. Events: ${describeCounts(r.hog.events)}.`,
    "",
  ].join("\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
