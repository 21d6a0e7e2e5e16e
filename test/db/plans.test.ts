/**
 * Plan shape of the read scenarios' SQL (bench/scenarios.ts: the SQL the API sends,
 * checked against it by every `npm run bench`) as a signed-in user under RLS, on
 * 60,000 tasks seeded by bench/seed.ts inside a transaction that is rolled back.
 * A later migration that breaks an index or turns a policy's sub-select into a
 * per-row call fails here. Not timed: benchmarks live in bench/.
 */
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { roleNames } from "../../src/db/roles";
import {
  explain,
  identityEvaluatedOnce,
  planShape,
  userIdIndexes,
  usesOnlyIndexes,
  type PlanShape,
} from "../../bench/plans";
import { runClock, SCENARIOS } from "../../bench/scenarios";
import { seed, verifySeed } from "../../bench/seed";
import { md5Uuid, type BenchUser } from "../../bench/users";
import { testDb } from "../support/env";

const roles = roleNames();
const PREFIX = `plans-${randomUUID()}-`;
const TASKS = 60_000;
const clock = runClock();

/** The index each read statement should be served by: the one made for it. */
const EXPECTED_INDEX: Record<string, Array<string | "any user_id index">> = {
  "newest 20 tasks": ["tasks_user_id_created_at_idx"],
  "open tasks due this week": ["tasks_user_id_open_due_at_idx"],
  "one task by id": ["tasks_pkey"],
  dashboard: ["any user_id index", "tasks_user_id_open_due_at_idx"],
};

let client: Client;
let users: number;
let userIndexes: Set<string>;

/** A typical seeded user: about the average number of tasks (user 1 has the most). */
const typicalUser = (): BenchUser => {
  const n = Math.round(users / 2);
  return { n, sub: `${PREFIX}${n}`, token: "", taskId: md5Uuid(`${PREFIX}task:${n}:1`) };
};

/** EXPLAIN ANALYZE of each read statement as `user`, under RLS, inside a savepoint. */
async function shapesAs(user: BenchUser): Promise<Array<{ name: string; statement: number; shape: PlanShape }>> {
  const shapes = [];
  for (const scenario of SCENARIOS.filter((s) => s.kind === "read")) {
    for (const [i, statement] of scenario.sql.entries()) {
      await client.query("savepoint explain");
      try {
        await client.query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [
          roles.user,
          JSON.stringify({ sub: user.sub }),
        ]);
        const { plan } = await explain(client, statement.text, statement.params(scenario.variables(user, clock)), true);
        shapes.push({ name: scenario.name, statement: i, shape: planShape(plan) });
      } finally {
        await client.query("rollback to savepoint explain");
      }
    }
  }
  return shapes;
}

beforeAll(async () => {
  client = new Client({ connectionString: testDb.superuserUrl });
  await client.connect();
  await client.query("begin");
  // Waiting on another test's lock is fine; waiting forever is not.
  await client.query("set local lock_timeout = '20s'");
  ({ users } = await seed(client, { prefix: PREFIX, tasks: TASKS }));
  await verifySeed(client, PREFIX);
  await client.query("analyze app_public.tasks");
  await client.query("analyze app_public.lists");
  userIndexes = new Set(await userIdIndexes(client, "app_public.tasks"));
}, 60_000);

afterAll(async () => {
  await client?.query("rollback");
  await client?.end();
});

describe("the read scenarios as a signed-in user under row-level security", () => {
  it("have the seeded rows to plan against, visible to the superuser", async () => {
    const { rows } = await client.query<{ tasks: string; own: string }>(
      `select count(*) as tasks, count(*) filter (where user_id = $2) as own
         from app_public.tasks where user_id like $1 || '%'`,
      [PREFIX, typicalUser().sub],
    );
    expect(Number(rows[0]!.tasks)).toBeGreaterThan(TASKS * 0.9);
    expect(Number(rows[0]!.own)).toBeGreaterThan(0);
  });

  it("reach tasks only through the indexes made for them, never a sequential scan", async () => {
    for (const { name, statement, shape } of await shapesAs(typicalUser())) {
      const expected = EXPECTED_INDEX[name]![statement]!;
      const allowed = expected === "any user_id index" ? userIndexes : new Set([expected]);
      expect({ name, statement, scans: shape.scans, ok: usesOnlyIndexes(shape, allowed) }).toEqual({
        name,
        statement,
        scans: shape.scans,
        ok: true,
      });
    }
  });

  it("evaluate current_user_id() once per statement, as an InitPlan", async () => {
    for (const { name, statement, shape } of await shapesAs(typicalUser())) {
      expect({ name, statement, initPlans: shape.initPlans, once: identityEvaluatedOnce(shape) }).toEqual({
        name,
        statement,
        initPlans: shape.initPlans,
        once: true,
      });
    }
  });
});

describe("the plan-shape checks themselves", () => {
  it("fail when the index for the newest tasks is gone", async () => {
    await client.query("savepoint broken");
    try {
      await client.query("drop index app_public.tasks_user_id_created_at_idx");
      const newest = (await shapesAs(typicalUser())).find((s) => s.name === "newest 20 tasks")!;
      expect(usesOnlyIndexes(newest.shape, new Set(["tasks_user_id_created_at_idx"]))).toBe(false);
    } finally {
      await client.query("rollback to savepoint broken");
    }
  });

  it("fail when a policy calls current_user_id() without its sub-select", async () => {
    await client.query("savepoint broken");
    try {
      await client.query("drop policy select_own on app_public.tasks");
      await client.query(
        `create policy select_own on app_public.tasks for select to ${roles.user} using (user_id = app_public.current_user_id())`,
      );
      const shapes = await shapesAs(typicalUser());
      expect(shapes.some(({ shape }) => !identityEvaluatedOnce(shape))).toBe(true);
    } finally {
      await client.query("rollback to savepoint broken");
    }
  });
});
