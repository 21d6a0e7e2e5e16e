/*
 * app_hidden.idempotency_keys under forced row-level security: a user reads,
 * records and deletes only their own keys; nobody else (another user, an
 * anonymous request, the owner) reads a live key; the purge function removes only
 * expired keys, of every user. Each "cannot" is paired with the superuser's proof
 * that the row is there.
 */
import { Pool } from "pg";
import { purgeExpiredIdempotencyKeys } from "../../src/db/idempotency";
import { roleNames } from "../../src/db/roles";
import { testDb } from "../support/env";
import { useSqlSession } from "../support/sql";
import { uniqueSub } from "../support/tokens";

const PERMISSION_DENIED = "42501";
const FINGERPRINT = "a".repeat(64);
const RECORD = `insert into app_hidden.idempotency_keys (key, fingerprint, status, body) values ($1, '${FINGERPRINT}', 200, '{}')`;

describe("idempotency keys, as SQL", () => {
  const db = useSqlSession();

  beforeEach(async () => {
    await db().asUser("alice");
    await db().query(RECORD, ["alice-key"]);
    await db().asSuperuser();
  });

  it("lets a user record and read their own key, stamped with their id and the time", async () => {
    await db().asUser("alice");
    expect(
      await db().query("select user_id, key, status, created_at = now() as now from app_hidden.idempotency_keys"),
    ).toEqual([{ user_id: "alice", key: "alice-key", status: 200, now: true }]);
  });

  it("hides a user's key from another user, who can neither read nor delete it; the key exists", async () => {
    await db().asUser("bob");
    expect(await db().query("select * from app_hidden.idempotency_keys")).toEqual([]);
    expect(await db().affected("delete from app_hidden.idempotency_keys where key = 'alice-key'")).toBe(0);
    await db().asSuperuser();
    expect(await db().query("select user_id from app_hidden.idempotency_keys where key = 'alice-key'")).toEqual([
      { user_id: "alice" },
    ]);
  });

  it("keeps each user's identical key apart", async () => {
    await db().asUser("bob");
    await db().query(RECORD, ["alice-key"]);
    await db().asSuperuser();
    expect(
      await db().query("select user_id from app_hidden.idempotency_keys where key = 'alice-key' order by user_id"),
    ).toEqual([{ user_id: "alice" }, { user_id: "bob" }]);
  });

  it("does not let a user record a key as someone else, change one, or set its time", async () => {
    await db().asUser("bob");
    await expect(
      db().query(
        `insert into app_hidden.idempotency_keys (user_id, key, fingerprint, status, body) values ('alice', 'k', '${FINGERPRINT}', 200, '{}')`,
      ),
    ).rejects.toMatchObject({ code: PERMISSION_DENIED });
    await expect(
      db().query(
        `insert into app_hidden.idempotency_keys (key, fingerprint, status, body, created_at) values ('k', '${FINGERPRINT}', 200, '{}', now() - interval '2 days')`,
      ),
    ).rejects.toMatchObject({ code: PERMISSION_DENIED });
    await db().asUser("alice");
    await expect(db().query("update app_hidden.idempotency_keys set body = '{\"x\":1}'")).rejects.toMatchObject({
      code: PERMISSION_DENIED,
    });
  });

  it("is closed to anonymous requests and, for live keys, to the owner", async () => {
    await db().asAnonymous();
    await expect(db().query("select * from app_hidden.idempotency_keys")).rejects.toMatchObject({
      code: PERMISSION_DENIED,
    });
    await db().asOwner();
    expect(await db().query("select * from app_hidden.idempotency_keys")).toEqual([]);
  });

  it("refuses keys longer than 255 characters and fingerprints that are not sha256", async () => {
    await db().asUser("alice");
    await expect(db().query(RECORD, ["k".repeat(256)])).rejects.toMatchObject({ code: "23514" });
    await expect(
      db().query(
        "insert into app_hidden.idempotency_keys (key, fingerprint, status, body) values ('k2', 'x', 200, '{}')",
      ),
    ).rejects.toMatchObject({ code: "23514" });
  });

  it("lets the purge function delete only expired keys", async () => {
    await db().asUser("carol");
    await db().query(RECORD, ["old"]);
    await db().query(RECORD, ["new"]);
    await db().asSuperuser();
    await db().query(
      "update app_hidden.idempotency_keys set created_at = now() - interval '24 hours 1 second' where user_id = 'carol' and key = 'old'",
    );
    await db().asUser("mallory");
    expect(await db().one("select app_hidden.purge_idempotency_keys() as purged")).toMatchObject({
      purged: expect.any(Number),
    });
    await db().asSuperuser();
    expect(
      await db().query("select key from app_hidden.idempotency_keys where user_id = 'carol' order by key"),
    ).toEqual([{ key: "new" }]);
  });
});

describe("the API's purge of expired keys", () => {
  const superuser = useSqlSession({ autocommit: true });
  const pool = new Pool({ connectionString: testDb.authUrl, max: 1 });
  afterAll(() => pool.end());

  it("removes keys older than 24 hours, of every user, and keeps younger ones", async () => {
    const [alice, bob] = [uniqueSub("purge-alice"), uniqueSub("purge-bob")];
    for (const [sub, key, age] of [
      [alice, "expired", "25 hours"],
      [bob, "expired", "24 hours 1 minute"],
      [alice, "live", "23 hours 59 minutes"],
    ] as const) {
      await superuser().query(
        `insert into app_hidden.idempotency_keys (user_id, key, fingerprint, status, body, created_at)
         values ($1, $2, '${FINGERPRINT}', 200, '{}', now() - $3::interval)`,
        [sub, key, age],
      );
    }

    const purged = await purgeExpiredIdempotencyKeys(pool, roleNames().user);

    expect(purged).toBeGreaterThanOrEqual(2);
    expect(
      await superuser().query(
        "select user_id, key from app_hidden.idempotency_keys where user_id = any($1) order by key",
        [[alice, bob]],
      ),
    ).toEqual([{ user_id: alice, key: "live" }]);
  });
});
