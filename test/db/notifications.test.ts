/*
 * The live-update trigger (migration 000005), seen the way the API sees it: a
 * session that LISTENs on a user's channels. Notifications are sent at commit,
 * so these tests commit (with users of their own) and delete their rows after.
 */
import type { Notification } from "pg";
import { changeChannel } from "../../src/realtime/channels";
import { useSqlSession, type SqlSession } from "../support/sql";
import { uniqueSub } from "../support/tokens";

/** Two sessions outside any transaction of their own: one LISTENs, the other commits. */
const listener = useSqlSession({ autocommit: true, shared: true });
const writer = useSqlSession({ autocommit: true, shared: true });
const received: Notification[] = [];
let waiting: (() => void) | undefined;
const subs: string[] = [];

/** The next notification; the timer only stops a broken test from hanging. */
async function nextNotification(): Promise<{ channel: string; payload: unknown }> {
  if (received.length === 0) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no notification arrived within 5 s")), 5000);
      waiting = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  const { channel, payload } = received.shift()!;
  return { channel, payload: JSON.parse(payload!) };
}

async function listenAs(sub: string) {
  subs.push(sub);
  for (const table of ["tasks", "lists"] as const) {
    await listener().query(`listen ${listener().client.escapeIdentifier(changeChannel(table, sub))}`);
  }
}

/** Runs statements as `sub` in one transaction, committed unless told otherwise. */
async function asUser(sub: string, statements: (db: SqlSession) => Promise<void>, { commit = true } = {}) {
  await writer().query("begin");
  await writer().asUser(sub);
  await statements(writer());
  await writer().query(commit ? "commit" : "rollback");
}

beforeAll(() => {
  listener().client.on("notification", (notification) => {
    received.push(notification);
    const wake = waiting;
    waiting = undefined;
    wake?.();
  });
});

afterEach(async () => {
  received.length = 0;
  await listener().query("unlisten *");
  await writer().query("delete from app_public.tasks where user_id = any($1)", [subs]);
  await writer().query("delete from app_public.lists where user_id = any($1)", [subs]);
});

it("announces a change on the owner's channel with the event and the id, and no row data", async () => {
  const alice = uniqueSub("alice");
  await listenAs(alice);
  let listId = "";
  let taskId = "";
  await asUser(alice, async (db) => {
    ({ id: listId } = await db.one<{ id: string }>(
      "insert into app_public.lists (name) values ('Secret plans') returning id",
    ));
    ({ id: taskId } = await db.one<{ id: string }>(
      "insert into app_public.tasks (title, list_id) values ('Secret task', $1) returning id",
      [listId],
    ));
  });

  expect(await nextNotification()).toEqual({
    channel: changeChannel("lists", alice),
    payload: { event: "CREATED", id: listId },
  });
  expect(await nextNotification()).toEqual({
    channel: changeChannel("tasks", alice),
    payload: { event: "CREATED", id: taskId },
  });

  await asUser(alice, async (db) => {
    await db.query("update app_public.tasks set title = 'Still secret' where id = $1", [taskId]);
    await db.query("delete from app_public.tasks where id = $1", [taskId]);
  });
  expect(await nextNotification()).toEqual({
    channel: changeChannel("tasks", alice),
    payload: { event: "UPDATED", id: taskId },
  });
  expect(await nextNotification()).toEqual({
    channel: changeChannel("tasks", alice),
    payload: { event: "DELETED", id: taskId },
  });
});

it("announces nothing for a change that is rolled back", async () => {
  const alice = uniqueSub("alice");
  await listenAs(alice);
  await asUser(alice, (db) => db.query("insert into app_public.lists (name) values ('Never was')").then(() => {}), {
    commit: false,
  });
  let kept = "";
  await asUser(alice, async (db) => {
    ({ id: kept } = await db.one<{ id: string }>("insert into app_public.lists (name) values ('Kept') returning id"));
  });
  // Delivered in commit order: had the rollback announced anything, it would come first.
  expect(await nextNotification()).toEqual({
    channel: changeChannel("lists", alice),
    payload: { event: "CREATED", id: kept },
  });
});

it("reaches a user whose id is 255 non-ASCII characters long, on a channel name that fits in an identifier", async () => {
  const long = uniqueSub("é".repeat(255 - 37)); // multi-byte: SQL and TypeScript must hash the same UTF-8 bytes
  expect(long).toHaveLength(255);
  expect(Buffer.byteLength(changeChannel("tasks", long))).toBeLessThanOrEqual(63);
  await listenAs(long);
  let taskId = "";
  await asUser(long, async (db) => {
    ({ id: taskId } = await db.one<{ id: string }>(
      "insert into app_public.tasks (title) values ('Long') returning id",
    ));
  });
  expect(await nextNotification()).toEqual({
    channel: changeChannel("tasks", long),
    payload: { event: "CREATED", id: taskId },
  });
});

it("tells each side its half when the owner moves a row from one user to another", async () => {
  const alice = uniqueSub("alice");
  const bob = uniqueSub("bob");
  await listenAs(alice);
  await listenAs(bob);
  let listId = "";
  await asUser(alice, async (db) => {
    ({ id: listId } = await db.one<{ id: string }>(
      "insert into app_public.lists (name) values ('Handed over') returning id",
    ));
  });
  expect((await nextNotification()).payload).toEqual({ event: "CREATED", id: listId });

  // Only a role that bypasses row-level security can do this; clients cannot write user_id.
  await writer().query("update app_public.lists set user_id = $1 where id = $2", [bob, listId]);
  const [first, second] = [await nextNotification(), await nextNotification()];
  expect([first, second]).toEqual([
    { channel: changeChannel("lists", alice), payload: { event: "DELETED", id: listId } },
    { channel: changeChannel("lists", bob), payload: { event: "CREATED", id: listId } },
  ]);
});
