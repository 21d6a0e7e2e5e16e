/*
 * What the database guarantees about the data itself: ownership cannot be forged,
 * a task cannot point into another user's list, triggers keep derived columns
 * right, and every rule has a named check constraint the API can report.
 */
import { seedAliceAndBob, type UserRows } from "../support/fixtures";
import { useSqlSession } from "../support/sql";

const PERMISSION_DENIED = "42501";
const FOREIGN_KEY_VIOLATION = "23503";
const CHECK_VIOLATION = "23514";
const INVALID_TEXT_REPRESENTATION = "22P02";

const db = useSqlSession();
let alice: UserRows;
let bob: UserRows;

beforeEach(async () => {
  ({ alice, bob } = await seedAliceAndBob(db()));
});

/** Sets timestamps in the past without firing triggers, so a later change is visible. */
async function backdate(table: string, id: string, columns: string[]): Promise<void> {
  await db().asSuperuser();
  await db().query("set local session_replication_role = replica");
  await db().query(`update ${table} set ${columns.map((c) => `${c} = '2000-01-01Z'`).join(", ")} where id = $1`, [id]);
  await db().query("set local session_replication_role = origin");
}

async function taskAsSuperuser(id: string) {
  await db().asSuperuser();
  return db().one<Record<string, unknown>>("select * from app_public.tasks where id = $1", [id]);
}

describe("ownership", () => {
  it("cannot be forged on insert: user_id is not writable", async () => {
    await db().asUser("bob");
    await expect(
      db().query("insert into app_public.tasks (user_id, title) values ('alice', 'planted')"),
    ).rejects.toMatchObject({ code: PERMISSION_DENIED });
    await db().asSuperuser();
    expect(await db().query("select id from app_public.tasks where title = 'planted'")).toEqual([]);
  });

  it("cannot be changed on update, not even to give a row away", async () => {
    await db().asUser("alice");
    await expect(
      db().query("update app_public.tasks set user_id = 'bob' where id = $1", [alice.taskId]),
    ).rejects.toMatchObject({ code: PERMISSION_DENIED });
    await expect(
      db().query("update app_public.lists set user_id = 'bob' where id = $1", [alice.listId]),
    ).rejects.toMatchObject({ code: PERMISSION_DENIED });
    expect((await taskAsSuperuser(alice.taskId)).user_id).toBe("alice");
  });

  it("ids and timestamps are not writable either", async () => {
    await db().asUser("alice");
    for (const column of ["id", "created_at", "updated_at", "completed_at"]) {
      await expect(
        db().query(`update app_public.tasks set ${column} = ${column} where id = $1`, [alice.taskId]),
      ).rejects.toMatchObject({ code: PERMISSION_DENIED });
    }
  });
});

describe("a task's list", () => {
  it("can be one of the user's own lists", async () => {
    await db().asUser("alice");
    const task = await db().one("insert into app_public.tasks (title, list_id) values ('Mine', $1) returning list_id", [
      alice.listId,
    ]);
    expect(task).toEqual({ list_id: alice.listId });
  });

  it("cannot be another user's list on insert, although that list exists", async () => {
    await db().asUser("bob");
    await expect(
      db().query("insert into app_public.tasks (title, list_id) values ('Sneaky', $1)", [alice.listId]),
    ).rejects.toMatchObject({ code: FOREIGN_KEY_VIOLATION, constraint: "tasks_list_id_fkey" });
    await db().asSuperuser();
    expect(await db().query("select id from app_public.lists where id = $1", [alice.listId])).toHaveLength(1);
  });

  it("cannot be moved into another user's list on update", async () => {
    await db().asUser("bob");
    await expect(
      db().query("update app_public.tasks set list_id = $1 where id = $2", [alice.listId, bob.taskId]),
    ).rejects.toMatchObject({ code: FOREIGN_KEY_VIOLATION, constraint: "tasks_list_id_fkey" });
    expect((await taskAsSuperuser(bob.taskId)).list_id).toBe(bob.listId);
  });

  it("is cleared, and the task kept, when the list is deleted", async () => {
    await db().asUser("alice");
    expect(await db().affected("delete from app_public.lists where id = $1", [alice.listId])).toBe(1);
    const task = await taskAsSuperuser(alice.taskId);
    expect(task).toMatchObject({ list_id: null, user_id: "alice" });
    expect((await taskAsSuperuser(bob.taskId)).list_id).toBe(bob.listId);
  });
});

describe("triggers", () => {
  it("set completed_at when a task is completed, keep it, and clear it when reopened", async () => {
    await db().asUser("alice");
    const created = await db().one<{ completed_at: Date | null }>(
      "insert into app_public.tasks (title, completed) values ('Done at once', true) returning completed_at",
    );
    expect(created.completed_at).toBeInstanceOf(Date);

    await db().query("update app_public.tasks set completed = true where id = $1", [alice.taskId]);
    const completedAt = (await taskAsSuperuser(alice.taskId)).completed_at;
    expect(completedAt).toBeInstanceOf(Date);

    await backdate("app_public.tasks", alice.taskId, ["completed_at"]);
    await db().asUser("alice");
    await db().query("update app_public.tasks set title = 'Still done', completed = true where id = $1", [
      alice.taskId,
    ]);
    expect((await taskAsSuperuser(alice.taskId)).completed_at).toEqual(new Date("2000-01-01Z"));

    await db().asUser("alice");
    await db().query("update app_public.tasks set completed = false where id = $1", [alice.taskId]);
    expect((await taskAsSuperuser(alice.taskId)).completed_at).toBeNull();
  });

  it.each([
    ["app_public.tasks", "title", (rows: UserRows) => rows.taskId],
    ["app_public.lists", "name", (rows: UserRows) => rows.listId],
  ])("keep %s.created_at and move updated_at on every change", async (table, column, id) => {
    await backdate(table, id(alice), ["created_at", "updated_at"]);
    await db().asUser("alice");
    const row = await db().one<{ created_at: Date; updated_at: Date }>(
      `update ${table} set ${column} = 'Changed' where id = $1 returning created_at, updated_at`,
      [id(alice)],
    );
    expect(row.created_at).toEqual(new Date("2000-01-01Z"));
    expect(row.updated_at.getTime()).toBeGreaterThan(new Date("2001-01-01Z").getTime());
  });

  it("trim titles and names, and trim and de-duplicate tags in order", async () => {
    await db().asUser("alice");
    const task = await db().one(
      "insert into app_public.tasks (title, tags) values (E'\\t Buy milk \\n', array['home', ' errand ', 'home', 'errand']) returning title, tags::text[] as tags",
    );
    expect(task).toEqual({ title: "Buy milk", tags: ["home", "errand"] });
    const list = await db().one("insert into app_public.lists (name) values ('  Groceries  ') returning name");
    expect(list).toEqual({ name: "Groceries" });
  });
});

describe("check constraints", () => {
  const cases: Array<[string, string, string]> = [
    ["an empty title", "insert into app_public.tasks (title) values ('')", "tasks_title_length"],
    ["a title of only whitespace", "insert into app_public.tasks (title) values ('   ')", "tasks_title_length"],
    [
      "a title over 500 characters",
      "insert into app_public.tasks (title) values (repeat('x', 501))",
      "tasks_title_length",
    ],
    [
      "a description over 10,000 characters",
      "insert into app_public.tasks (title, description) values ('t', repeat('x', 10001))",
      "tasks_description_length",
    ],
    [
      "more than 20 tags",
      "insert into app_public.tasks (title, tags) values ('t', (select array_agg('tag' || i) from generate_series(1, 21) i))",
      "tasks_tags_count",
    ],
    ["an empty tag", "insert into app_public.tasks (title, tags) values ('t', array[''])", "tag_length"],
    ["a blank tag", "insert into app_public.tasks (title, tags) values ('t', array['  '])", "tag_length"],
    [
      "a title of Unicode spaces only",
      "insert into app_public.tasks (title) values (E'\\u00a0\\u3000\\u2009')",
      "tasks_title_length",
    ],
    [
      "a tag over 50 characters",
      "insert into app_public.tasks (title, tags) values ('t', array[repeat('x', 51)])",
      "tag_length",
    ],
    ["a null tag", "insert into app_public.tasks (title, tags) values ('t', array[null])", "tag_length"],
    ["an empty list name", "insert into app_public.lists (name) values (' ')", "lists_name_length"],
    [
      "a list name over 200 characters",
      "insert into app_public.lists (name) values (repeat('x', 201))",
      "lists_name_length",
    ],
  ];

  it.each(cases)("refuse %s, naming the constraint", async (_what, sql, constraint) => {
    await db().asUser("alice");
    await expect(db().query(sql)).rejects.toMatchObject({ code: CHECK_VIOLATION, constraint });
  });

  it("accept the limits themselves", async () => {
    await db().asUser("alice");
    const row = await db().one<{ n: number }>(
      `insert into app_public.tasks (title, description, tags)
       values (repeat('x', 500), repeat('y', 10000), (select array_agg(repeat('t', 48) || i) from generate_series(10, 29) i))
       returning cardinality(tags) as n`,
    );
    expect(row.n).toBe(20);
  });

  it("judge a tag's length after trimming it", async () => {
    await db().asUser("alice");
    const row = await db().one<{ tags: string[] }>(
      "insert into app_public.tasks (title, tags) values ('t', array[' ' || repeat('w', 50) || E'\\u00a0']) returning tags::text[] as tags",
    );
    expect(row.tags).toEqual(["w".repeat(50)]);
  });

  it("refuse an unknown priority", async () => {
    await db().asUser("alice");
    await expect(
      db().query("insert into app_public.tasks (title, priority) values ('t', 'extreme')"),
    ).rejects.toMatchObject({ code: INVALID_TEXT_REPRESENTATION });
  });

  it("keep completed and completed_at consistent even with triggers disabled", async () => {
    await db().asSuperuser();
    await db().query("set local session_replication_role = replica");
    await expect(
      db().query("insert into app_public.tasks (user_id, title, completed) values ('alice', 't', true)"),
    ).rejects.toMatchObject({ code: CHECK_VIOLATION, constraint: "tasks_completed_at_matches_completed" });
    await expect(
      db().query("insert into app_public.tasks (user_id, title, completed_at) values ('alice', 't', now())"),
    ).rejects.toMatchObject({ code: CHECK_VIOLATION, constraint: "tasks_completed_at_matches_completed" });
  });

  it.each(["app_public.tasks", "app_public.lists"])("refuse an empty or oversized user_id in %s", async (table) => {
    await db().asSuperuser();
    const column = table.endsWith("tasks") ? "title" : "name";
    const constraint = `${table.split(".")[1]}_user_id_length`;
    for (const userId of ["", "x".repeat(256)]) {
      await expect(
        db().query(`insert into ${table} (user_id, ${column}) values ($1, 'x')`, [userId]),
      ).rejects.toMatchObject({ code: CHECK_VIOLATION, constraint });
    }
  });
});
