/**
 * `npm run bench -- [--scale 10k|1m|10m] [--duration 10] [--rounds 3] [--only parts]`
 *
 * Starts (or reuses) the bench Postgres in .data/bench-postgres, seeds the scale once,
 * starts the API (production mode) and the hand-written floor in child processes, checks
 * the scenarios' SQL against what the API really sends, then measures the parts asked
 * for and writes bench/results/<time>-<scale>.json and .md. Parts (comma-separated):
 *
 *   sql      print the SQL the API sends per scenario (and whether scenarios.ts matches)
 *   load     every scenario on api, floor and pgbench, interleaved over --rounds
 *   explain  RLS as a user against an explicit where as a BYPASSRLS member of the user role (EXPLAIN ANALYZE)
 *   open     open-model load at --rate-fraction (0.7) of the API's max rate: p50, p99, errors
 *   soak     the same for --soak-seconds (600), sampling the API's resident memory
 *
 * Default: load,explain,open. Not part of CI: benchmarks are not tests.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { Client } from "pg";
import { loadConfig } from "../src/config";
import { roleNames } from "../src/db/roles";
import { captureSql, logStatements, sqlDifferences, transactionNotes } from "./capture";
import { startBenchDatabase } from "./database";
import { explainScenarios } from "./explain";
import { load } from "./load";
import { checkPgbench, runPgbench } from "./pgbench";
import {
  describeCommit,
  describeMachine,
  writeResults,
  type Results,
  type ScenarioResult,
  type SystemName,
} from "./report";
import { CREATED_TITLE, runClock, SCENARIOS } from "./scenarios";
import { ensureSeeded, parseScale } from "./seed";
import { startServer, type Server } from "./servers";
import { maxRate, openModel } from "./soak";
import { combine, type Measurement } from "./stats";
import { benchSecret, benchUsers, forgedToken } from "./users";

/** The API's default statement timeout (src/config.ts), which the floor gets from the same config. */
const STATEMENT_TIMEOUT_MS = loadConfig({}).statementTimeoutMs;

const PARTS = ["sql", "load", "explain", "open", "soak"] as const;
type Part = (typeof PARTS)[number];

function options() {
  const { values } = parseArgs({
    options: {
      scale: { type: "string", default: "1m" },
      duration: { type: "string", default: "10" },
      rounds: { type: "string", default: "3" },
      connections: { type: "string", default: "32" },
      "pool-size": { type: "string", default: "10" },
      only: { type: "string", default: "load,explain,open" },
      "rate-fraction": { type: "string", default: "0.7" },
      // SOAK_SECONDS: what docs/operations.md documents for `npm run bench:soak`.
      "soak-seconds": { type: "string", default: process.env.SOAK_SECONDS ?? "600" },
      "explain-runs": { type: "string", default: "21" },
      "log-level": { type: "string", default: "warn" },
      port: { type: "string", default: process.env.BENCH_PG_PORT ?? "54339" },
    },
  });
  const number = (name: keyof typeof values) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  const only = new Set(
    String(values.only)
      .split(",")
      .map((p) => p.trim()),
  );
  for (const part of only) if (!PARTS.includes(part as Part)) throw new Error(`--only: unknown part "${part}"`);
  return {
    scale: parseScale(String(values.scale)),
    duration: number("duration"),
    rounds: number("rounds"),
    connections: number("connections"),
    poolSize: number("pool-size"),
    only: only as Set<Part>,
    rateFraction: number("rate-fraction"),
    soakSeconds: number("soak-seconds"),
    explainRuns: number("explain-runs"),
    logLevel: String(values["log-level"]),
    port: number("port"),
  };
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Connections the API's pool has handed out so far (its /metrics counter): read
 * around the API's own runs, so work another system leaves in flight cannot count.
 */
async function apiCheckouts(apiUrl: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const match = /^tasks_api_pool_checkouts_total (\d+)$/m.exec(text);
  if (!match) throw new Error("the API's /metrics has no tasks_api_pool_checkouts_total");
  return Number(match[1]);
}

/** Deletes the tasks the create scenario made (the seed never uses its title). */
async function removeCreated(client: Client): Promise<void> {
  await client.query("delete from app_public.tasks where title = $1", [CREATED_TITLE]);
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.only.has("load")) checkPgbench();
  const db = await startBenchDatabase(opts.port, `bench_${opts.scale}`);
  if (process.env.BENCH_PG_LOG) db.onLog(say);
  const admin = new Client({ connectionString: db.superuserUrl });
  const servers: Server[] = [];
  const cleanUp = async () => {
    for (const server of servers.reverse()) await server.stop().catch(() => {});
    servers.length = 0;
    await admin.end().catch(() => {});
    await db.stop();
  };
  // Interrupted (Ctrl-C, a timeout): stop the children and the cluster rather than orphan them.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  try {
    await admin.connect();
    const seed = await ensureSeeded(admin, opts.scale, say);
    await admin.query("create extension if not exists pg_stat_statements");
    const secret = benchSecret();
    const users = await benchUsers(secret, seed.users, opts.connections);
    const forged = await forgedToken(users[0]!.sub);
    const clock = runClock();
    const serverOptions = { authUrl: db.authUrl, secret, poolSize: opts.poolSize, logLevel: opts.logLevel };
    // The API's connections must open with log_statement on, for the capture below.
    const stopLogging = await logStatements(db);
    const api = await startServer("api", serverOptions);
    servers.push(api);
    const postgres = (await admin.query<{ version: string }>("select version()")).rows[0]!.version;
    const results: Results = {
      at: new Date().toISOString(),
      scale: opts.scale,
      seed,
      machine: describeMachine(postgres),
      commit: describeCommit(),
      settings: { ...opts, only: [...opts.only], logLevel: opts.logLevel },
      notes: [],
    };

    const captured = await captureSql(db, api.url, users[0]!, clock, SCENARIOS).finally(stopLogging);
    if (opts.only.has("sql")) {
      for (const [name, { statements, transactions }] of Object.entries(captured)) {
        process.stdout.write(`-- ${name} (${transactions} transaction(s))\n${statements.join(";\n")};\n\n`);
      }
    }
    const differences = sqlDifferences(SCENARIOS, captured);
    for (const problem of differences) say(`SQL differs from scenarios.ts — ${problem}`);
    if (differences.length > 0 && (opts.only.has("load") || opts.only.has("explain"))) {
      throw new Error("scenarios.ts no longer holds the SQL the API sends: update it (see above) before comparing");
    }
    results.notes.push(...transactionNotes(captured));
    for (const scenario of SCENARIOS.filter((s) => s.wasted?.length)) {
      results.notes.push(
        `${scenario.name}: the API also sends ${scenario.wasted!.length} statement(s) nothing in the answer needs (scenarios.ts \`wasted\`); the floor and pgbench do not`,
      );
    }

    const loadOptions = { users, forged, connections: opts.connections, seconds: opts.duration, clock };
    if (opts.only.has("load")) {
      const floor = await startServer("floor", serverOptions);
      servers.push(floor);
      const systems: SystemName[] = ["api", "floor", "pgbench"];
      const loadResults: ScenarioResult[] = SCENARIOS.map((s) => ({ scenario: s.name, kind: s.kind, systems: {} }));
      const rounds: Record<string, Partial<Record<SystemName, Measurement[]>>> = {};
      for (let round = 0; round < opts.rounds; round++) {
        for (const [index, scenario] of SCENARIOS.entries()) {
          // Each round starts with a different system, so drift on a noisy machine hits all of them.
          const order = [...systems.slice(round % 3), ...systems.slice(0, round % 3)];
          for (const system of order) {
            if (system === "pgbench" && scenario.kind === "invalid") continue;
            const before = system === "api" ? await apiCheckouts(api.url) : 0;
            const measured =
              system === "pgbench"
                ? await runPgbench(scenario, {
                    authUrl: db.authUrl,
                    users: seed.users,
                    clients: opts.poolSize,
                    seconds: opts.duration,
                    userRole: roleNames().user,
                    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
                    clock,
                  })
                : await load(scenario, { ...loadOptions, system, baseUrl: system === "api" ? api.url : floor.url });
            if (system === "api" && (scenario.kind === "invalid" || index === 0)) {
              const began = (await apiCheckouts(api.url)) - before;
              const t = (loadResults.find((r) => r.kind === "invalid")!.apiTransactions ??= {
                duringInvalid: 0,
                invalidRequests: 0,
                duringValidRead: 0,
                validRequests: 0,
              });
              if (scenario.kind === "invalid") {
                t.duringInvalid += began;
                t.invalidRequests += measured.requests;
              } else {
                t.duringValidRead += began;
                t.validRequests += measured.requests;
              }
            }
            ((rounds[scenario.name] ??= {})[system] ??= []).push(measured);
            // Thousands of new tasks per run would change the scale the next measurements see.
            if (scenario.createsRows) await removeCreated(admin);
            say(
              `round ${round + 1}/${opts.rounds} ${scenario.name} ${system}: ${measured.requestsPerSecond.toFixed(0)} req/s, ` +
                `p50 ${measured.p50Ms.toFixed(2)} ms, p99 ${measured.p99Ms.toFixed(2)} ms, errors ${measured.errors}`,
            );
          }
        }
      }
      for (const result of loadResults) {
        for (const [system, measured] of Object.entries(rounds[result.scenario] ?? {})) {
          result.systems[system as SystemName] = { combined: combine(measured!), rounds: measured! };
        }
      }
      results.load = loadResults;
    }

    if (opts.only.has("explain")) {
      say("explain: RLS as a user against an explicit where, without RLS");
      results.explain = await explainScenarios(db.superuserUrl, SCENARIOS, clock, seed.users, opts.explainRuns);
    }

    const mix = SCENARIOS.filter((s) => s.kind !== "invalid");
    if (opts.only.has("open") || opts.only.has("soak")) {
      say(`open model: measuring the API's max rate on the scenario mix for ${opts.duration} s`);
      const max = await maxRate(mix, { ...loadOptions, system: "api", baseUrl: api.url });
      const rate = Math.max(1, Math.round(max.requestsPerSecond * opts.rateFraction));
      const open = {
        ...loadOptions,
        system: "api" as const,
        baseUrl: api.url,
        rate,
        pid: api.pid,
      };
      if (opts.only.has("open")) {
        say(`open model: ${rate} req/s for ${opts.duration * 3} s`);
        const measured = await openModel(mix, { ...open, seconds: opts.duration * 3 });
        results.open = { ...measured, maxRatePerSecond: max.requestsPerSecond };
      }
      if (opts.only.has("soak")) {
        say(`soak: ${rate} req/s for ${opts.soakSeconds} s`);
        results.soak = await openModel(mix, { ...open, seconds: opts.soakSeconds });
      }
    }

    // What the capture and the open model added, so the next run starts from the same data.
    await removeCreated(admin);
    if (results.load || results.explain || results.open || results.soak) {
      say(`wrote ${path.relative(process.cwd(), writeResults(results))}`);
    }
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
