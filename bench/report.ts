/**
 * The results: the machine and commit they were measured on, a table per scenario
 * with the ratios the targets of issue 5 are stated in, the RLS comparison, the open
 * model and the soak; printed and written to bench/results/<time>-<scale>.json and .md.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT_DIR } from "../src/paths";
import type { ExplainRow } from "./explain";
import type { Kind } from "./scenarios";
import type { OpenModelResult } from "./soak";
import type { Measurement } from "./stats";

export type SystemName = "api" | "floor" | "pgbench";

export interface ScenarioResult {
  scenario: string;
  kind: Kind;
  /** Per system: the combined measurement and every round's. */
  systems: Partial<Record<SystemName, { combined: Measurement; rounds: Measurement[] }>>;
  /** Invalid tokens: connections the API's pool handed out meanwhile (its /metrics counter), and during a valid read for comparison. */
  apiTransactions?: { duringInvalid: number; invalidRequests: number; duringValidRead: number; validRequests: number };
}

export interface Results {
  at: string;
  scale: string;
  seed: { users: number; tasks: number; lists: number; seconds: number };
  machine: Record<string, string>;
  commit: string;
  settings: Record<string, unknown>;
  notes: string[];
  load?: ScenarioResult[];
  explain?: ExplainRow[];
  open?: OpenModelResult & { maxRatePerSecond: number };
  soak?: OpenModelResult;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT_DIR, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

export function describeMachine(postgresVersion: string): Record<string, string> {
  const release = existsSync("/etc/os-release")
    ? (/^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "")
    : "";
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: String(os.cpus().length),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${release} (${os.type()} ${os.release()})`.trim(),
    node: process.version,
    postgres: postgresVersion,
    pgbench: run("/usr/bin/pgbench", ["--version"]),
  };
}

export function describeCommit(): string {
  const head = run("git", ["rev-parse", "HEAD"]);
  const dirty = run("git", ["status", "--porcelain", "--", "src", "bench", "migrations"]);
  return dirty && dirty !== "unknown" ? `${head} (with uncommitted changes in src/bench/migrations)` : head;
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const verdict = (ok: boolean) => (ok ? "✓" : "✗");

function loadSection(load: ScenarioResult[]): string[] {
  const lines: string[] = [];
  const reference = load.find((r) => r.kind === "read")?.systems.api?.combined.requestsPerSecond ?? NaN;
  for (const result of load) {
    lines.push(
      `### ${result.scenario}`,
      "",
      "| system | req/s | p50 ms | p99 ms | errors |",
      "| --- | ---: | ---: | ---: | ---: |",
    );
    for (const [name, system] of Object.entries(result.systems)) {
      const m = system!.combined;
      lines.push(`| ${name} | ${f(m.requestsPerSecond, 0)} | ${f(m.p50Ms, 2)} | ${f(m.p99Ms, 2)} | ${m.errors} |`);
    }
    const api = result.systems.api?.combined;
    const floor = result.systems.floor?.combined;
    const pgbench = result.systems.pgbench?.combined;
    lines.push("");
    if (api && floor && result.kind !== "invalid") {
      const target = result.kind === "read" ? 0.8 : 0.7;
      const ratio = api.requestsPerSecond / floor.requestsPerSecond;
      lines.push(`- API/floor: **${f(ratio, 2)}** (target ≥ ${target}) ${verdict(ratio >= target)}`);
    }
    if (api && pgbench) {
      const ratio = api.requestsPerSecond / pgbench.requestsPerSecond;
      lines.push(`- API/pgbench: **${f(ratio, 2)}** (target ≥ 0.5) ${verdict(ratio >= 0.5)}`);
    }
    if (api && result.kind === "invalid") {
      const ratio = api.requestsPerSecond / reference;
      lines.push(
        `- API invalid-token req/s ÷ API "${load[0]!.scenario}" req/s: **${f(ratio, 2)}** (target ≥ 3) ${verdict(ratio >= 3)}`,
      );
    }
    if (result.apiTransactions) {
      const t = result.apiTransactions;
      lines.push(
        `- API pool checkouts: ${t.duringInvalid} during ${t.invalidRequests} invalid-token requests (target 0) ${verdict(t.duringInvalid === 0)}; ` +
          `${t.duringValidRead} during ${t.validRequests} valid reads (the counter works)`,
      );
    }
    lines.push("");
  }
  return lines;
}

function explainSection(rows: ExplainRow[]): string[] {
  return [
    // Δ beside the ratio: below ~0.1 ms the InitPlan's fixed few microseconds dominate the ratio.
    "| scenario | stmt | user | RLS ms | explicit ms | Δ ms | ratio (≤ 1.1) | no seq scan | user_id indexes | InitPlan once |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | :-: | :-: | :-: |",
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.statement} | ${r.user} | ${f(r.rlsMs, 3)} | ${f(r.explicitMs, 3)} | ${f(r.rlsMs - r.explicitMs, 3)} | ${f(r.ratio, 2)} ${verdict(r.ratio <= 1.1)} | ` +
        `${verdict(r.indexScansOnly)} | ${verdict(r.userIdIndexes)} | ${verdict(r.identityOnce)} |`,
    ),
    "",
  ];
}

/** Memory growth is only judged on the soak: a short run is all warm-up. */
function openSection(title: string, o: OpenModelResult, extra: string[], memory: boolean): string[] {
  const header = "| rate req/s | achieved req/s | p50 ms | p99 ms | p99/p50 (≤ 5) | errors (0) |";
  const row =
    `| ${f(o.ratePerSecond, 0)} | ${f(o.requestsPerSecond, 0)} | ${f(o.p50Ms, 2)} | ${f(o.p99Ms, 2)} | ` +
    `${f(o.p99Ms / o.p50Ms, 2)} ${verdict(o.p99Ms <= 5 * o.p50Ms)} | ${o.errors} ${verdict(o.errors === 0)} |`;
  const growth = o.rssGrowthAfterWarmupPercent;
  return [
    `### ${title}`,
    "",
    memory ? `${header} RSS after warm-up → end | growth (< 10 %) |` : header,
    memory
      ? "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      : "| ---: | ---: | ---: | ---: | ---: | ---: |",
    memory ? `${row} ${rssRange(o)} | ${f(growth)} % ${verdict(growth < 10)} |` : row,
    "",
    ...(o.byScenario ? scenarioRows(o) : []),
    ...(o.errorSamples?.length
      ? ["Failures seen (first few):", "", ...o.errorSamples.map((e) => `- \`${e}\``), ""]
      : []),
    ...extra,
  ];
}

/** Where the tail comes from: each scenario of the mix on its own. */
function scenarioRows(o: OpenModelResult): string[] {
  return [
    "| scenario | requests | p50 ms | p99 ms | p99/p50 | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...Object.entries(o.byScenario).map(
      ([name, m]) =>
        `| ${name} | ${m.requests} | ${f(m.p50Ms, 2)} | ${f(m.p99Ms, 2)} | ${f(m.p99Ms / m.p50Ms, 2)} | ${m.errors} |`,
    ),
    "",
  ];
}

function rssRange(o: OpenModelResult): string {
  const warm = o.memory.find((m) => m.second >= o.seconds / 3) ?? o.memory[0];
  const last = o.memory.at(-1);
  return warm && last ? `${f(warm.rssBytes / 2 ** 20, 0)} → ${f(last.rssBytes / 2 ** 20, 0)} MiB` : "–";
}

export function markdown(results: Results): string {
  const lines = [
    `# Benchmark ${results.at}, scale ${results.scale}`,
    "",
    `Commit \`${results.commit}\`. Seed: ${results.seed.users} users, ${results.seed.tasks} tasks, ${results.seed.lists} lists.`,
    "",
    ...Object.entries(results.machine).map(([k, v]) => `- ${k}: ${v}`),
    `- settings: \`${JSON.stringify(results.settings)}\``,
    ...results.notes.map((n) => `- note: ${n}`),
    "",
  ];
  if (results.load) lines.push("## Load (median of rounds, systems interleaved)", "", ...loadSection(results.load));
  if (results.explain)
    lines.push("## RLS cost (EXPLAIN ANALYZE, median execution time)", "", ...explainSection(results.explain));
  if (results.open || results.soak) lines.push("## Open model (scenario mix at a fixed rate)", "");
  if (results.open) {
    lines.push(
      ...openSection(
        `${results.open.seconds} s at ${f(results.open.ratePerSecond / results.open.maxRatePerSecond, 2)} × the max`,
        results.open,
        [`max (closed model, same mix): ${f(results.open.maxRatePerSecond, 0)} req/s`, ""],
        false,
      ),
    );
  }
  if (results.soak) lines.push(...openSection(`soak, ${results.soak.seconds} s`, results.soak, [], true));
  return `${lines.join("\n")}\n`;
}

export function writeResults(results: Results): string {
  const base = path.join(ROOT_DIR, "bench", "results", `${results.at.replace(/[:.]/g, "-")}-${results.scale}`);
  writeFileSync(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
  const md = markdown(results);
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
  return `${base}.md`;
}
