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
/**
 * Transaction control and the identity set-up, in whichever form the API sends them
 * (@dataplan/pg's `set_config(el->>0, el->>1, true) from json_array_elements($1)`, or
 * `begin; select set_config(…), …` in one round trip), and @dataplan/pg's
 * once-per-connection `set jit_optimize_above_cost`: not part of a scenario's SQL.
 */
function isPlumbing(sql: string): boolean {
  if (/^(begin|commit|rollback)$/i.test(sql) || /^set jit_optimize_above_cost = -1$/i.test(sql)) return true;
  const setup = /^(?:begin; ?)?select (set_config\([^;]*)$/i.exec(sql);
  return setup !== null && !/\bfrom\b(?! json_array_elements\(\$1::json\) el$)/i.test(setup[1]!);
}

export const normalizeSql = (text: string) => text.replace(/\s+/g, " ").trim().replace(/;$/, "");

/**
 * Switches log_statement on for connections opened from now on. A backend that is
 * already idle applies a reload only after its next command, so this must come before
 * the API opens its pool; switch it off (the returned function) after the capture.
 */
export async function logStatements(db: BenchDatabase): Promise<() => Promise<void>> {
  const set = async (sql: string, expected: string) => {
    const admin = new Client({ connectionString: db.superuserUrl });
    await admin.connect();
    try {
      await admin.query(sql);
      await admin.query("select pg_reload_conf()");
    } finally {
      await admin.end();
    }
    // The postmaster rereads the file asynchronously: a fresh connection shows when it has.
    for (let attempt = 0; attempt < 100; attempt++) {
      const probe = new Client({ connectionString: db.superuserUrl });
      await probe.connect();
      const { rows } = await probe.query<{ log_statement: string }>("show log_statement").finally(() => probe.end());
      if (rows[0]?.log_statement === expected) return;
    }
    throw new Error(`log_statement did not become ${expected}`);
  };
  await set("alter system set log_statement = 'all'", "all");
  return () => set("alter system reset log_statement", "none");
}

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
  // A query the log must show after the request's own: once it is there, so is everything before it.
  // A fresh connection each time, so it has the current log_statement.
  const flush = async (marker: string) => {
    const seen = new Promise<void>((resolve) => waiting.set(marker, resolve));
    const admin = new Client({ connectionString: db.superuserUrl });
    await admin.connect();
    await admin.query(`select '${marker}'`).finally(() => admin.end());
    await seen;
    waiting.delete(marker);
  };
  const captured: Captured = {};
  try {
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
        statements: all.filter((sql) => !isPlumbing(sql)),
        transactions: all.filter((sql) => /^begin\b/i.test(sql)).length,
      };
    }
  } finally {
    db.onLog(undefined);
  }
  return captured;
}

/** Scenario by scenario, where the SQL in scenarios.ts (wasted statements included, in any order) differs from what the API sent. */
export function sqlDifferences(scenarios: Scenario[], captured: Captured): string[] {
  const problems: string[] = [];
  for (const scenario of scenarios) {
    if (scenario.kind === "invalid") continue;
    const sent = [...(captured[scenario.name]?.statements ?? [])].sort();
    const ours = [...scenario.sql.map((s) => s.text), ...(scenario.wasted ?? [])].map(normalizeSql).sort();
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
