/**
 * Reads the SQL the API really sends for each scenario from Postgres's own log
 * (log_statement = all, switched on for the capture only), so "the same SQL" the
 * floor and pgbench run is checked against PostGraphile on every run rather than
 * trusted from a copy that may have drifted.
 */
import { Client } from "pg";
import type { BenchDatabase } from "./database";
import type { RunClock, Scenario } from "./scenarios";
import type { BenchUser } from "./users";

/** Per scenario: the statements of one request that are neither transaction control nor identity set-up. */
export type Captured = Record<string, { statements: string[]; transactions: number }>;

const ENTRY_START = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] /m;
const STATEMENT = /^[^\n]*?LOG:\s+(?:statement|execute [^:]+):\s*([\s\S]*)$/;
// The last one is @dataplan/pg's once-per-connection set-up; the floor and pgbench apply it too.
const PLUMBING =
  /^(begin|commit|rollback|select set_config\(el->>0, el->>1, true\) from json_array_elements\(\$1::json\) el|set jit_optimize_above_cost = -1;?)$/i;

export const normalizeSql = (text: string) => text.replace(/\s+/g, " ").trim().replace(/;$/, "");

export async function captureSql(
  db: BenchDatabase,
  apiUrl: string,
  user: BenchUser,
  clock: RunClock,
  scenarios: Scenario[],
): Promise<Captured> {
  let text = "";
  const waiting = new Map<string, () => void>();
  db.onLog((line) => {
    text += `${line.replace(/^\[STDERR\] /, "")}\n`;
    for (const [marker, resolve] of waiting) if (text.includes(marker)) resolve();
  });
  const admin = new Client({ connectionString: db.superuserUrl });
  await admin.connect();
  // A query the log must show after the request's own: once it is there, so is everything before it.
  const flush = async (marker: string) => {
    const seen = new Promise<void>((resolve) => waiting.set(marker, resolve));
    await admin.query(`select '${marker}'`);
    await seen;
    waiting.delete(marker);
  };
  const captured: Captured = {};
  try {
    await admin.query("alter system set log_statement = 'all'");
    await admin.query("select pg_reload_conf()");
    await flush("bench-capture-start");
    for (const [i, scenario] of scenarios.entries()) {
      if (scenario.kind === "invalid") continue;
      text = "";
      const response = await fetch(`${apiUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` },
        body: JSON.stringify({ query: scenario.query, variables: scenario.variables(user, clock) }),
      });
      const body = (await response.json()) as { errors?: unknown };
      if (body.errors) throw new Error(`${scenario.name}: the API answered ${JSON.stringify(body.errors)}`);
      await flush(`bench-capture-${i}`);
      const all = text
        .split(ENTRY_START)
        .map((entry) => STATEMENT.exec(entry.trim())?.[1])
        .filter((sql): sql is string => sql !== undefined)
        .map(normalizeSql)
        .filter((sql) => !sql.includes("bench-capture-"));
      captured[scenario.name] = {
        statements: all.filter((sql) => !PLUMBING.test(sql)),
        transactions: all.filter((sql) => /^begin$/i.test(sql)).length,
      };
    }
  } finally {
    await admin.query("alter system reset log_statement").catch(() => {});
    await admin.query("select pg_reload_conf()").catch(() => {});
    await admin.end();
    db.onLog(undefined);
  }
  return captured;
}

/** Scenario by scenario, where the SQL in scenarios.ts differs from what the API sent. */
export function sqlDifferences(scenarios: Scenario[], captured: Captured): string[] {
  const problems: string[] = [];
  for (const scenario of scenarios) {
    if (scenario.kind === "invalid") continue;
    const sent = captured[scenario.name]?.statements ?? [];
    const ours = scenario.sql.map((s) => normalizeSql(s.text));
    if (sent.length !== ours.length || sent.some((sql, i) => sql !== ours[i])) {
      problems.push(`${scenario.name}: the API sent\n${sent.map((s) => `    ${s}`).join("\n")}`);
    }
  }
  return problems;
}

/** Scenarios the API spreads over more than one transaction (so more than one pool connection); the floor uses one. */
export function transactionNotes(captured: Captured): string[] {
  return Object.entries(captured)
    .filter(([, c]) => c.transactions !== 1)
    .map(([name, c]) => `${name}: the API runs ${c.transactions} transactions per request, the floor and pgbench 1`);
}
