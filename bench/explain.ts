/**
 * RLS cost: EXPLAIN (ANALYZE, BUFFERS) of each read scenario's SQL as a real user
 * under the policies, against the same statement with an explicit
 * `where user_id = $n` run by a bench-only role with BYPASSRLS that is a member of the
 * user role: the same grants and privilege checks, minus the policies, so the
 * difference is RLS alone. (The owner cannot be that baseline: the tables FORCE
 * row-level security, so the owner sees no rows at all; the superuser skips the
 * privilege checks too.) Median execution time of several runs after a warm-up, for
 * the heaviest user and a typical one, and the plan's shape under RLS.
 */
import { Client } from "pg";
import { roleNames } from "../src/db/roles";
import {
  explain,
  identityEvaluatedOnce,
  planShape,
  userIdIndexes,
  usesOnlyIndexes,
  withExplicitUser,
  type PlanShape,
} from "./plans";
import type { RunClock, Scenario } from "./scenarios";

/** Exists only in the bench's own cluster: the baseline's role (see above). */
const BASELINE_ROLE = "bench_no_rls";
import { BENCH_PREFIX } from "./seed";
import { median } from "./stats";
import { md5Uuid, type BenchUser } from "./users";

export interface ExplainRow {
  scenario: string;
  statement: number;
  user: string;
  rlsMs: number;
  explicitMs: number;
  ratio: number;
  /** Every table scan under RLS is an index scan (no Seq Scan of tasks or lists). */
  indexScansOnly: boolean;
  /** The scans' indexes lead with user_id (or are the primary key, for a lookup by id). */
  userIdIndexes: boolean;
  /** current_user_id() is an InitPlan that ran once, and no per-row SubPlan exists. */
  identityOnce: boolean;
  shape: PlanShape;
}

/** A seeded user as the scenarios see it; no token is needed to EXPLAIN. */
const seededUser = (n: number): BenchUser => ({
  n,
  sub: `${BENCH_PREFIX}${n}`,
  token: "",
  taskId: md5Uuid(`${BENCH_PREFIX}task:${n}:1`),
});

export async function explainScenarios(
  superuserUrl: string,
  scenarios: Scenario[],
  clock: RunClock,
  users: number,
  runs: number,
): Promise<ExplainRow[]> {
  const client = new Client({ connectionString: superuserUrl });
  await client.connect();
  const rows: ExplainRow[] = [];
  try {
    await client.query(
      `do $$ begin
         if not exists (select from pg_roles where rolname = '${BASELINE_ROLE}') then
           create role ${BASELINE_ROLE} nologin bypassrls;
         end if;
       end $$`,
    );
    await client.query(`grant ${roleNames().user} to ${BASELINE_ROLE}`);
    const indexes = new Set([
      ...(await userIdIndexes(client, "app_public.tasks")),
      ...(await userIdIndexes(client, "app_public.lists")),
    ]);
    // User 1 has the most tasks (Zipf); the middle one is typical.
    const people = [
      { label: "heaviest", user: seededUser(1) },
      { label: "typical", user: seededUser(Math.max(1, Math.round(users / 2))) },
    ];
    for (const scenario of scenarios.filter((s) => s.kind === "read")) {
      for (const [i, statement] of scenario.sql.entries()) {
        for (const { label, user } of people) {
          const params = statement.params(scenario.variables(user, clock));
          const timed = async (asUser: boolean) => {
            const times: number[] = [];
            let last;
            for (let run = 0; run <= runs; run++) {
              await client.query("begin");
              try {
                if (asUser) {
                  await client.query(
                    "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
                    [roleNames().user, JSON.stringify({ sub: user.sub })],
                  );
                  last = await explain(client, statement.text, params, true);
                } else {
                  await client.query("select set_config('role', $1, true)", [BASELINE_ROLE]);
                  const sql = withExplicitUser(statement.text, params.length + 1);
                  last = await explain(client, sql, [...params, user.sub], true);
                }
              } finally {
                await client.query("rollback");
              }
              if (run > 0) times.push(last.executionMs); // run 0 warms the cache
            }
            return { ms: median(times), plan: last!.plan };
          };
          const rls = await timed(true);
          const explicit = await timed(false);
          const shape = planShape(rls.plan);
          const byId = /__tasks__\."id" = \$/.test(statement.text);
          rows.push({
            scenario: scenario.name,
            statement: i + 1,
            user: `${label} (${user.sub})`,
            rlsMs: rls.ms,
            explicitMs: explicit.ms,
            ratio: rls.ms / explicit.ms,
            indexScansOnly: shape.scans.every((s) => s.node !== "Seq Scan"),
            userIdIndexes: usesOnlyIndexes(shape, byId ? new Set([...indexes, "tasks_pkey"]) : indexes),
            identityOnce: identityEvaluatedOnce(shape),
            shape,
          });
        }
      }
    }
  } finally {
    await client.end();
  }
  return rows;
}
