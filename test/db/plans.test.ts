/**
 * Plan shape of the read scenarios' SQL (bench/scenarios.ts: the SQL the API sends,
 * checked against it by every `npm run bench`) as a signed-in user under RLS, on
 * 60,000 tasks seeded by bench/seed.ts inside a transaction that is rolled back.
 * A later migration that breaks an index or turns a policy's sub-select into a
 * per-row call fails here. Not timed: benchmarks live in bench/.
 */
import { randomUUID } from "node:crypto";
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
import { useSqlSession } from "../support/sql";

const roles = roleNames();
const PREFIX = `plans-${randomUUID()}-`;
const TASKS = 60_000;
const clock = runClock();

/** The indexes each read statement should be served by: the ones made for it. */
const EXPECTED_INDEX: Record<string, Array<string[] | "any user_id index">> = {
  "newest 20 tasks": [["tasks_user_id_created_at_idx"]],
  "open tasks due this week": [["tasks_user_id_open_due_at_idx"]],
  // Either finds the one row: by its id, or by (owner, id).
  "one task by id": [["tasks_pkey", "tasks_user_id_id_idx"]],
  dashboard: ["any user_id index", ["tasks_user_id_open_due_at_idx"]],
};

/** One rolled-back transaction for the whole file: the seed is made once. */
const db = useSqlSession({ shared: true });
let users: number;
let userIndexes: Set<string>;

/** A typical seeded user: about the average number of tasks (user 1 has the most). */
const typicalUser = (): BenchUser => {
  const n = Math.round(users / 2);
  return { n, sub: `${PREFIX}${n}`, token: "", taskId: md5Uuid(`${PREFIX}task:${n}:1`) };
};

type Shape = { name: string; statement: number; shape: PlanShape };

/** EXPLAIN ANALYZE of each read statement as `user`, under RLS, inside a savepoint. */
async function shapesAs(user: BenchUser): Promise<Shape[]> {
  const shapes: Shape[] = [];
  for (const scenario of SCENARIOS.filter((s) => s.kind === "read")) {
    for (const [i, statement] of scenario.sql.entries()) {
      await db().undoAfter(async () => {
        await db().asUser(user.sub);
        const params = statement.params(scenario.variables(user, clock));
        const { plan } = await explain(db().client, statement.text, params, true);
        shapes.push({ name: scenario.name, statement: i, shape: planShape(plan) });
      });
    }
  }
  return shapes;
}

beforeAll(async () => {
  // Waiting on another test's lock is fine; waiting forever is not.
  await db().query("set local lock_timeout = '20s'");
  ({ users } = await seed(db().client, { prefix: PREFIX, tasks: TASKS }));
  await verifySeed(db().client, PREFIX);
  await db().query("analyze app_public.tasks");
  await db().query("analyze app_public.lists");
  userIndexes = new Set(await userIdIndexes(db().client, "app_public.tasks"));
}, 60_000);

describe("the read scenarios as a signed-in user under row-level security", () => {
  it("have the seeded rows to plan against, visible to the superuser", async () => {
    const counts = await db().one<{ tasks: string; own: string }>(
      `select count(*) as tasks, count(*) filter (where user_id = $2) as own
         from app_public.tasks where user_id like $1 || '%'`,
      [PREFIX, typicalUser().sub],
    );
    expect(Number(counts.tasks)).toBeGreaterThan(TASKS * 0.9);
    expect(Number(counts.own)).toBeGreaterThan(0);
  });

  it("reach tasks only through the indexes made for them, never a sequential scan", async () => {
    for (const { name, statement, shape } of await shapesAs(typicalUser())) {
      const expected = EXPECTED_INDEX[name]![statement]!;
      const allowed = expected === "any user_id index" ? userIndexes : new Set(expected);
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
    await db().undoAfter(async () => {
      await db().query("drop index app_public.tasks_user_id_created_at_idx");
      const newest = (await shapesAs(typicalUser())).find((s) => s.name === "newest 20 tasks")!;
      expect(usesOnlyIndexes(newest.shape, new Set(["tasks_user_id_created_at_idx"]))).toBe(false);
    });
  });

  it("fail when a policy calls current_user_id() without its sub-select", async () => {
    await db().undoAfter(async () => {
      await db().query("drop policy select_own on app_public.tasks");
      await db().query(
        `create policy select_own on app_public.tasks for select to ${roles.user} using (user_id = app_public.current_user_id())`,
      );
      const shapes = await shapesAs(typicalUser());
      expect(shapes.some(({ shape }) => !identityEvaluatedOnce(shape))).toBe(true);
    });
  });
});
