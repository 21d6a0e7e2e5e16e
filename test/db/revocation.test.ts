/*
 * Revocation cut-offs (migration 000011), in SQL: who may set them, who may read
 * them, and what is announced. The operator's app_private.revoke_tokens() is the
 * owner's alone; a user reaches only their own row, through revoke_my_tokens().
 */
import type { Notification } from "pg";
import { userKey } from "../../src/realtime/channels";
import { useSqlSession } from "../support/sql";
import { uniqueSub } from "../support/tokens";

const CUTOFF = "select extract(epoch from not_before)::bigint as s from app_private.token_cutoffs where user_id = $1";

describe("the operator's revoke_tokens(user_id)", () => {
  const db = useSqlSession();

  it("sets the user's cut-off to now, in whole seconds, as the owner", async () => {
    const alice = uniqueSub("alice");
    await db().asOwner();
    const { cutoff, now } = await db().one<{ cutoff: Date; now: Date }>(
      "select app_private.revoke_tokens($1) as cutoff, now() as now",
      [alice],
    );
    expect(cutoff.getTime()).toBe(Math.floor(now.getTime() / 1000) * 1000);
    await db().asSuperuser();
    expect(await db().query(CUTOFF, [alice])).toEqual([{ s: String(cutoff.getTime() / 1000) }]);
  });

  it("never moves a cut-off back, so calling it again is harmless", async () => {
    const alice = uniqueSub("alice");
    await db().asSuperuser();
    await db().query(
      "insert into app_private.token_cutoffs values ($1, date_trunc('second', now() + interval '1 hour'))",
      [alice],
    );
    const { later } = await db().one<{ later: string }>(
      "select extract(epoch from date_trunc('second', now() + interval '1 hour'))::bigint as later",
    );
    await db().asOwner();
    await db().query("select app_private.revoke_tokens($1)", [alice]);
    await db().asSuperuser();
    expect(await db().query(CUTOFF, [alice])).toEqual([{ s: later }]);
  });

  it.each(["user", "anonymous"] as const)("cannot be called by the %s role", async (who) => {
    const alice = uniqueSub("alice");
    if (who === "user") await db().asUser(uniqueSub("mallory"));
    else await db().asAnonymous();
    await expect(db().query("select app_private.revoke_tokens($1)", [alice])).rejects.toMatchObject({
      code: "42501",
    });
    await db().asSuperuser();
    expect(await db().query(CUTOFF, [alice])).toEqual([]);
  });
});

describe("the API's own login (the authenticator)", () => {
  const subs: string[] = [];
  // Declared before the sessions: jest runs after-hooks in the order they were declared.
  afterEach(async () => {
    await superuser().query("delete from app_private.token_cutoffs where user_id = any($1)", [subs.splice(0)]);
  });
  const authenticator = useSqlSession({ as: "authenticator" });
  const superuser = useSqlSession({ autocommit: true, shared: true });

  it("cannot revoke anyone's tokens", async () => {
    await expect(authenticator().query("select app_private.revoke_tokens('alice')")).rejects.toMatchObject({
      code: "42501",
    });
  });

  it("reads one user's cut-off and every cut-off by user key, and writes nothing", async () => {
    const alice = uniqueSub("alice");
    subs.push(alice);
    await superuser().query("insert into app_private.token_cutoffs values ($1, '2030-01-01T00:00:00Z')", [alice]);
    const at = String(Date.UTC(2030, 0, 1) / 1000);
    expect(await authenticator().query("select app_private.token_cutoff($1) as s", [alice])).toEqual([{ s: at }]);
    expect(await authenticator().query("select app_private.token_cutoff($1) as s", [uniqueSub("bob")])).toEqual([
      { s: null },
    ]);
    expect(
      await authenticator().query("select not_before from app_private.token_cutoffs_by_key() where user_key = $1", [
        userKey(alice),
      ]),
    ).toEqual([{ not_before: at }]);
    await expect(authenticator().query("select * from app_private.token_cutoffs")).rejects.toMatchObject({
      code: "42501",
    });
    await expect(
      authenticator().query("update app_private.token_cutoffs set not_before = now() where user_id = $1", [alice]),
    ).rejects.toMatchObject({ code: "42501" });
  });

  it("passes none of that to the request roles it becomes", async () => {
    for (const become of [() => authenticator().asUser("mallory"), () => authenticator().asAnonymous()]) {
      await become();
      await expect(authenticator().query("select app_private.token_cutoff('alice')")).rejects.toMatchObject({
        code: "42501",
      });
      await expect(authenticator().query("select * from app_private.token_cutoffs_by_key()")).rejects.toMatchObject({
        code: "42501",
      });
    }
  });
});

describe("a user's revoke_my_tokens()", () => {
  const db = useSqlSession();

  it("sets the caller's own cut-off and leaves everyone else's alone", async () => {
    const [alice, bob] = [uniqueSub("alice"), uniqueSub("bob")];
    await db().asSuperuser();
    await db().query("insert into app_private.token_cutoffs values ($1, '2020-01-01T00:00:00Z')", [bob]);

    await db().asUser(alice);
    await db().query("select app_public.revoke_my_tokens()");
    await db().query("select app_public.revoke_my_tokens()"); // again: harmless

    await db().asSuperuser();
    const { now } = await db().one<{ now: string }>(
      "select extract(epoch from date_trunc('second', now()))::bigint as now",
    );
    expect(await db().query(CUTOFF, [alice])).toEqual([{ s: now }]);
    // bob's row exists and is untouched.
    expect(await db().query(CUTOFF, [bob])).toEqual([{ s: String(Date.UTC(2020, 0, 1) / 1000) }]);
  });

  it("takes no argument naming a user", async () => {
    await db().asUser(uniqueSub("mallory"));
    await expect(db().query("select app_public.revoke_my_tokens('bob')")).rejects.toMatchObject({ code: "42883" });
  });

  it("is refused to an anonymous caller", async () => {
    await db().asAnonymous();
    await expect(db().query("select app_public.revoke_my_tokens()")).rejects.toMatchObject({ code: "42501" });
  });

  it("gives request roles no access to the table itself", async () => {
    await db().asUser(uniqueSub("mallory"));
    await expect(db().query("select * from app_private.token_cutoffs")).rejects.toMatchObject({ code: "42501" });
  });
});

describe("the announcement", () => {
  const subs: string[] = [];
  afterAll(async () => {
    await writer().query("delete from app_private.token_cutoffs where user_id = any($1)", [subs]);
  });
  const listener = useSqlSession({ autocommit: true, shared: true });
  const writer = useSqlSession({ autocommit: true, shared: true });

  it("is the user's key and the cut-off in epoch seconds on token_cutoffs, sent at commit only", async () => {
    const [alice, bob] = [uniqueSub("alice"), uniqueSub("bob")];
    subs.push(alice, bob);
    const received: Notification[] = [];
    listener().client.on("notification", (n) => received.push(n));
    await listener().query("listen token_cutoffs");

    await writer().query("begin");
    await writer().asUser(bob);
    await writer().query("select app_public.revoke_my_tokens()");
    await writer().query("rollback"); // nothing announced

    await writer().query("begin");
    await writer().asUser(alice);
    await writer().query("select app_public.revoke_my_tokens()");
    await writer().query("commit");
    const { s } = await writer().one<{ s: string }>(CUTOFF, [alice]);

    // The listener hears its own ping after every notification committed before it.
    await writer().query("select pg_notify('token_cutoffs', 'ping:test')");
    for (let i = 0; i < 100 && !received.some((n) => n.payload === "ping:test"); i++)
      await listener().query("select 1");
    const ours = received.filter((n) => n.payload!.startsWith(userKey(alice)) || n.payload!.startsWith(userKey(bob)));
    expect(ours.map((n) => [n.channel, n.payload])).toEqual([["token_cutoffs", `${userKey(alice)}:${s}`]]);
  });
});
