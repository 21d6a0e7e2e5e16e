/*
 * `npm run db:seed`: the demo data goes in through row-level security as each
 * demo user, a second run changes nothing, and each user sees only their own rows.
 * Uses a scratch database of its own: the shared test database must not gain the
 * demo users' rows while other suites count alice's and bob's.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { readdirSync, readFileSync } from "node:fs";
import { DEMO_TAG, DEMO_USERS, seedDemoData } from "../../scripts/db/demoData";
import { migrateDatabase, type DatabaseUrls } from "../../scripts/db/migrations";
import { roleNames } from "../../src/db/roles";
import { connectionString } from "../../scripts/db/urls";
import { ROOT_DIR } from "../../src/paths";
import { testDb } from "../support/env";
import { withSqlSession } from "../support/sql";

const SCRATCH = "tasks_seed_test";
const urls: DatabaseUrls = {
  rootUrl: testDb.rootUrl,
  ownerUrl: connectionString(testDb.ownerUrl, { database: SCRATCH }),
  authUrl: connectionString(testDb.authUrl, { database: SCRATCH }),
};
const userRole = roleNames().user;
const TODAY = new Date("2026-11-26T15:00:00Z");
const MIDNIGHT = Date.parse("2026-11-26T00:00:00Z");
const DAY_MS = 86_400_000;

const TSX = path.join(ROOT_DIR, "node_modules", ".bin", "tsx");

/** `npm run db:seed` as a user runs it, with only the given variables (and PATH) set. */
async function seedCommand(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(TSX, ["scripts/db/seed.ts"], {
      cwd: ROOT_DIR,
      env: { PATH: process.env.PATH, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** The seed commits its own transactions, as the authenticator. */
const seed = () =>
  withSqlSession({ as: "authenticator", database: SCRATCH, autocommit: true }, (db) =>
    seedDemoData(db.client, { userRole, today: TODAY }),
  );

/** Every row of both tables, every column, as the superuser (who bypasses RLS). */
const everyRow = () =>
  withSqlSession({ database: SCRATCH }, async (db) => ({
    lists: await db.query("select * from app_public.lists order by id"),
    tasks: await db.query("select * from app_public.tasks order by id"),
  }));

/** Drop database refuses to run inside a transaction. */
const dropScratch = ({ force = false } = {}) =>
  withSqlSession({ autocommit: true }, (db) =>
    db.query(`drop database if exists ${SCRATCH}${force ? " with (force)" : ""}`),
  );

beforeAll(async () => {
  await dropScratch();
  await migrateDatabase(urls);
});
afterAll(() => dropScratch({ force: true }));

it("inserts every demo list and task on the first run and leaves every row as it was on the second", async () => {
  const listCount = DEMO_USERS.reduce((n, user) => n + user.lists.length, 0);
  const taskCount = DEMO_USERS.reduce((n, user) => n + user.tasks.length, 0);

  const first = await seed();
  const afterFirst = await everyRow();
  const second = await seed();
  const afterSecond = await everyRow();

  expect(first).toEqual({ inserted: listCount + taskCount, updated: 0, unchanged: 0 });
  expect(afterFirst.lists).toHaveLength(listCount);
  expect(afterFirst.tasks).toHaveLength(taskCount);
  expect(second).toEqual({ inserted: 0, updated: 0, unchanged: listCount + taskCount });
  // Ids, created_at, updated_at, completed_at included: nothing was rewritten.
  expect(afterSecond).toEqual(afterFirst);
});

it("restores a demo task a user changed, and only that task", async () => {
  await seed();
  const before = await everyRow();
  await withSqlSession({ database: SCRATCH, autocommit: true }, (db) =>
    db.query(
      "update app_public.tasks set priority = 'none', tags = '{demo}' where user_id = 'bob' and title = 'Fix the leaking tap'",
    ),
  );

  const summary = await seed();
  const after = await everyRow();

  expect(summary.updated).toBe(1);
  const changed = after.tasks.filter((task, i) => JSON.stringify(task) !== JSON.stringify(before.tasks[i]));
  expect(changed).toEqual([
    expect.objectContaining({ user_id: "bob", title: "Fix the leaking tap", priority: "high", tags: "{diy,demo}" }),
  ]);
});

it("gives alice overdue, due-this-week, undated and completed tasks, with priorities, tags and lists", async () => {
  await seed();
  const tasks = await withSqlSession({ database: SCRATCH }, (db) =>
    db.query<{ due_at: Date | null; completed: boolean; priority: string; tags: string[]; list_id: string | null }>(
      "select due_at, completed, priority, tags::text[] as tags, list_id from app_public.tasks where user_id = 'alice'",
    ),
  );
  const open = tasks.filter((task) => !task.completed);
  const dueIn = (task: { due_at: Date | null }) => (task.due_at!.getTime() - MIDNIGHT) / DAY_MS;

  expect(open.some((task) => task.due_at !== null && dueIn(task) < 0)).toBe(true);
  expect(open.some((task) => task.due_at !== null && dueIn(task) >= 1 && dueIn(task) < 7)).toBe(true);
  expect(tasks.some((task) => task.due_at === null)).toBe(true);
  expect(tasks.some((task) => task.completed)).toBe(true);
  expect(new Set(tasks.map((task) => task.priority)).size).toBeGreaterThanOrEqual(3);
  expect(tasks.some((task) => task.tags.filter((tag) => tag !== DEMO_TAG).length > 1)).toBe(true);
  expect(tasks.some((task) => task.list_id === null)).toBe(true);
});

describe.each(DEMO_USERS.map((user) => user.sub))("as %s", (sub) => {
  it("sees exactly their own demo rows and none of the other demo users' (which exist)", async () => {
    await seed();
    const owners = await withSqlSession({ database: SCRATCH }, (db) =>
      db.query<{ user_id: string; lists: number; tasks: number }>(
        `select user_id, (select count(*)::int from app_public.lists l where l.user_id = u.user_id) as lists,
                count(*)::int as tasks
         from app_public.tasks u group by user_id order by user_id`,
      ),
    );
    const seen = await withSqlSession({ as: "authenticator", database: SCRATCH }, async (db) => {
      await db.asUser(sub);
      const lists = await db.query<{ user_id: string }>("select user_id from app_public.lists");
      const tasks = await db.query<{ user_id: string }>("select user_id from app_public.tasks");
      return { lists: lists.map((r) => r.user_id), tasks: tasks.map((r) => r.user_id) };
    });

    const mine = owners.find((row) => row.user_id === sub)!;
    expect(owners.map((row) => row.user_id)).toEqual(DEMO_USERS.map((user) => user.sub).sort());
    expect(owners.filter((row) => row.user_id !== sub).every((row) => row.tasks > 0)).toBe(true);
    expect(seen.lists).toEqual(Array(mine.lists).fill(sub));
    expect(seen.tasks).toEqual(Array(mine.tasks).fill(sub));
    expect(mine.tasks).toBe(DEMO_USERS.find((user) => user.sub === sub)!.tasks.length);
  });
});

describe("npm run db:seed", () => {
  it("seeds the database AUTH_DATABASE_URL names, changes nothing the second time, and prints the token hint", async () => {
    await seed();
    const before = await everyRow();

    const run = await seedCommand({ AUTH_DATABASE_URL: urls.authUrl });

    expect(run).toMatchObject({ code: 0, stderr: "" });
    // Rows with due dates are restored when the test's day and today differ; none is ever added twice.
    expect(run.stdout).toMatch(/: 0 rows inserted, \d+ restored, \d+ already there/);
    expect(run.stdout).toContain("npm run -s token -- alice");
    // Due dates follow the day the command runs, so only rows without one are compared.
    const undated = (rows: Awaited<ReturnType<typeof everyRow>>) => rows.tasks.filter((task) => task.due_at === null);
    expect(undated(await everyRow())).toEqual(undated(before));
  });

  it("refuses to load demo users with NODE_ENV=production", async () => {
    const run = await seedCommand({ NODE_ENV: "production", AUTH_DATABASE_URL: urls.authUrl });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/refuses to run with NODE_ENV=production/);
  });

  it("refuses an owner's DATABASE_URL alone: the owner cannot write as the demo users", async () => {
    const run = await seedCommand({ DATABASE_URL: urls.ownerUrl });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/set AUTH_DATABASE_URL too/);
  });
});

it("never changes a task the user made with a demo task's title, and adds its own beside it", async () => {
  await seed();
  // As if alice had made "Buy coffee beans" herself before seeding (e.g. following an example).
  const own = await withSqlSession({ database: SCRATCH, autocommit: true }, async (db) => {
    await db.query("delete from app_public.tasks where user_id = 'alice' and title = 'Buy coffee beans'");
    const [row] = await db.query(
      "insert into app_public.tasks (user_id, title, priority, tags) values ('alice', 'Buy coffee beans', 'none', '{mine}') returning *",
    );
    return row!;
  });

  const summary = await seed();
  const after = await everyRow();

  expect(summary.inserted).toBe(1);
  expect(after.tasks.filter((task) => task.id === own.id)).toEqual([own]);
  expect(after.tasks.filter((task) => task.user_id === "alice" && task.title === "Buy coffee beans")).toHaveLength(2);
  await withSqlSession({ database: SCRATCH, autocommit: true }, (db) =>
    db.query("delete from app_public.tasks where id = $1", [own.id]),
  );
});

it("uses no list name or task title that the README, the docs or the client example use", () => {
  const files = [
    "README.md",
    ...readdirSync(path.join(ROOT_DIR, "docs")).map((name) => `docs/${name}`),
    "examples/client/README.md",
    ...readdirSync(path.join(ROOT_DIR, "examples/client/src")).map((name) => `examples/client/src/${name}`),
  ].filter((file) => /\.(md|ts)$/.test(file));
  const text = files.map((file) => readFileSync(path.join(ROOT_DIR, file), "utf8")).join("\n");
  const names = DEMO_USERS.flatMap((user) => [...user.lists, ...user.tasks.map((task) => task.title)]);
  // Quoted as a value: "Buy milk", or \"Buy milk\" inside a JSON string in a shell example.
  const quoted = names.filter((name) => text.includes(`"${name}"`) || text.includes(`"${name}\\"`));
  expect(quoted).toEqual([]);
});
