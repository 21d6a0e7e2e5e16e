/*
 * Row versions (migration 000009): every list and task starts at version 1 and the
 * trigger `_150_version` adds one on every update, whoever writes and whatever they
 * write. Request roles cannot write the column at all. And the statement the API
 * runs for a write with `expectedVersion` — `update … where id = $1 and version = $2`
 * — lets exactly one of two racing writers through, because Postgres re-checks the
 * WHERE on the newest row after waiting for the other (READ COMMITTED).
 */
import { seedAliceAndBob, type UserRows } from "../support/fixtures";
import { SqlSession, useSqlSession } from "../support/sql";

const PERMISSION_DENIED = "42501";

describe("the version column", () => {
  const db = useSqlSession();
  let alice: UserRows;

  beforeEach(async () => {
    ({ alice } = await seedAliceAndBob(db()));
  });

  const versionOf = async (table: string, id: string) => {
    await db().asSuperuser();
    return (await db().one<{ version: number }>(`select version from app_public.${table} where id = $1`, [id])).version;
  };

  it("is 1 for a new row, whatever the insert says", async () => {
    await db().asSuperuser();
    const list = await db().one(
      "insert into app_public.lists (user_id, name, version) values ('alice', 'L', 42) returning version",
    );
    expect(list).toEqual({ version: 1 });
    await db().asUser("alice");
    const task = await db().one("insert into app_public.tasks (title) values ('T') returning version");
    expect(task).toEqual({ version: 1 });
  });

  it("goes up by one on every update, even one that changes nothing", async () => {
    await db().asUser("alice");
    await db().query("update app_public.tasks set title = 'first' where id = $1", [alice.taskId]);
    await db().query("update app_public.tasks set title = 'first' where id = $1", [alice.taskId]);
    await db().query("update app_public.lists set name = name where id = $1", [alice.listId]);
    expect(await versionOf("tasks", alice.taskId)).toBe(3);
    expect(await versionOf("lists", alice.listId)).toBe(2);
  });

  it("cannot be written by a request role: no insert or update privilege on it", async () => {
    await db().asUser("alice");
    await expect(
      db().query("update app_public.tasks set version = 100 where id = $1", [alice.taskId]),
    ).rejects.toMatchObject({ code: PERMISSION_DENIED });
    await expect(
      db().query("update app_public.lists set version = 100 where id = $1", [alice.listId]),
    ).rejects.toMatchObject({ code: PERMISSION_DENIED });
    await expect(db().query("insert into app_public.tasks (title, version) values ('x', 100)")).rejects.toMatchObject({
      code: PERMISSION_DENIED,
    });
    expect(await versionOf("tasks", alice.taskId)).toBe(1);
  });

  it("is not even the superuser's to set: the trigger overrides what it writes", async () => {
    await db().asSuperuser();
    await db().query("update app_public.tasks set version = 100 where id = $1", [alice.taskId]);
    expect(await versionOf("tasks", alice.taskId)).toBe(2);
  });

  it("moves when deleting a list takes its tasks out of it (`on delete set null`): the task changed", async () => {
    await db().asUser("alice");
    await db().query("delete from app_public.lists where id = $1", [alice.listId]);
    await db().asSuperuser();
    expect(await db().one("select list_id, version from app_public.tasks where id = $1", [alice.taskId])).toEqual({
      list_id: null,
      version: 2,
    });
  });

  it("makes `where version = <what I read>` match only while nobody else has written", async () => {
    await db().asUser("alice");
    expect(
      await db().affected("update app_public.tasks set title = 'mine' where id = $1 and version = 1", [alice.taskId]),
    ).toBe(1);
    expect(
      await db().affected("update app_public.tasks set title = 'stale' where id = $1 and version = 1", [alice.taskId]),
    ).toBe(0);
    expect(await db().affected("delete from app_public.tasks where id = $1 and version = 1", [alice.taskId])).toBe(0);
    await db().asSuperuser();
    expect(await db().one("select title, version from app_public.tasks where id = $1", [alice.taskId])).toEqual({
      title: "mine",
      version: 2,
    });
  });
});

/*
 * Two connections, each with its own transaction, as two API requests would be.
 * The first holds its updated row uncommitted; the second's identical statement
 * waits for it, and once the first commits finds version 2 where it expected 1.
 */
describe("two writers expecting the same version", () => {
  let sessions: SqlSession[] = [];
  const first = () => sessions[0]!;
  const second = () => sessions[1]!;
  let taskId: string;
  let listId: string;

  beforeEach(async () => {
    sessions = [await SqlSession.open({ autocommit: true }), await SqlSession.open({ autocommit: true })];
    const sub = `race-${Date.now()}-${Math.random()}`;
    listId = (
      await first().one<{ id: string }>(
        "insert into app_public.lists (user_id, name) values ($1, 'race') returning id",
        [sub],
      )
    ).id;
    taskId = (
      await first().one<{ id: string }>(
        "insert into app_public.tasks (user_id, title) values ($1, 'race') returning id",
        [sub],
      )
    ).id;
    for (const session of [first(), second()]) {
      await session.query("begin");
      await session.asUser(sub);
    }
  });

  afterEach(async () => {
    for (const session of sessions) await session.query("rollback");
    await first().query("delete from app_public.tasks where id = $1", [taskId]);
    await first().query("delete from app_public.lists where id = $1", [listId]);
    for (const session of sessions) await session.close();
  });

  /** Starts `sql` on the second connection, and shows it is waiting on the first one's lock before going on. */
  async function startBlocked(session: SqlSession, sql: string, params: unknown[]) {
    const pid = (await session.one<{ pid: number }>("select pg_backend_pid() as pid")).pid;
    const pending = session.client.query(sql, params);
    const observer = await SqlSession.open({ autocommit: true });
    try {
      for (;;) {
        const { waiting } = await observer.one<{ waiting: boolean }>(
          "select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = $1",
          [pid],
        );
        if (waiting) break;
      }
    } finally {
      await observer.close();
    }
    // In an object: an async function returning the promise itself would wait for it.
    return { pending };
  }

  it.each([
    ["an update", "update app_public.tasks set title = 'second' where id = $1 and version = 1"],
    ["a delete", "delete from app_public.tasks where id = $1 and version = 1"],
  ])("let exactly one through; the other, %s, waits and then matches nothing", async (_what, secondSql) => {
    expect(
      await first().affected("update app_public.tasks set title = 'first' where id = $1 and version = 1", [taskId]),
    ).toBe(1);
    const { pending } = await startBlocked(second(), secondSql, [taskId]);
    await first().query("commit");
    expect((await pending).rowCount).toBe(0);
    expect(await first().one("select title, version from app_public.tasks where id = $1", [taskId])).toEqual({
      title: "first",
      version: 2,
    });
    await first().query("begin"); // for afterEach's rollback
  });

  it("a write without a version waits too, and then applies to the newest row (last write wins, as before)", async () => {
    await first().affected("update app_public.tasks set title = 'first' where id = $1", [taskId]);
    const { pending } = await startBlocked(second(), "update app_public.tasks set title = 'second' where id = $1", [
      taskId,
    ]);
    await first().query("commit");
    expect((await pending).rowCount).toBe(1);
    await second().query("commit");
    expect(await first().one("select title, version from app_public.tasks where id = $1", [taskId])).toEqual({
      title: "second",
      version: 3,
    });
    for (const session of [first(), second()]) await session.query("begin");
  });
});
