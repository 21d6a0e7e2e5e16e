/*
 * "Sign out everywhere" against the real server: revokeMyTokens voids every token
 * the user was issued before the call — on HTTP, on open sockets, on a second API
 * process sharing the database, and after a restart — while tokens issued after it,
 * and every other user's, keep working. The check costs a valid request no
 * database round trip.
 */
import { Client } from "pg";
import { roleNames } from "../../src/db/roles";
import { CLOSE_CODES } from "../../src/realtime/websocket";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { Changes, createTask, openSocket, within } from "../support/liveUpdates";
import { sign, uniqueSub, userKey, type User } from "../support/tokens";

const ME = "query Me { tasks(first: 1) { totalCount } }";
const REVOKE = "mutation { revokeMyTokens(input: {}) { clientMutationId } }";
const REVOKED = {
  code: "UNAUTHENTICATED",
  reason: "token was revoked (signed out everywhere); sign in again",
};

let api: TestApi;
let db: Client;
const others: TestApi[] = [];
const sockets: Array<{ client: { dispose(): void | Promise<void> } }> = [];

/**
 * A token issued `ago` seconds in the past: a cut-off is whole seconds, so a token from
 * the very second of the revocation still works; these are older than it.
 */
async function tokenFor(sub: string, ago = 10): Promise<User> {
  return { sub, token: await sign({ sub, iat: Math.floor(Date.now() / 1000) - ago }, userKey) };
}

async function me(on: TestApi, user: User) {
  const { status, body } = await on.graphql(ME, {}, { token: user.token });
  return { status, body };
}

function connect(on: TestApi, user: User) {
  const socket = openSocket(on, { authorization: `Bearer ${user.token}` });
  sockets.push(socket);
  return socket;
}

/** Polls (every 5 ms) until `on` refuses the token, and says how long that took from `since`. */
async function refusedAfter(on: TestApi, user: User, since: number, limitMs = 5000): Promise<number> {
  for (;;) {
    const { status } = await me(on, user);
    const elapsed = performance.now() - since;
    if (status === 401) return elapsed;
    if (elapsed > limitMs) throw new Error(`still accepted after ${Math.round(elapsed)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

beforeAll(async () => {
  api = await startApi();
  db = new Client({ connectionString: testDb.superuserUrl });
  await db.connect();
});

afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => socket.client.dispose()));
  await Promise.all(others.splice(0).map((other) => other.close()));
});

afterAll(async () => {
  await db.end();
  await api.close();
});

describe("revokeMyTokens", () => {
  it("voids the caller's older tokens on HTTP with 401 UNAUTHENTICATED and reason revoked", async () => {
    const sub = uniqueSub("alice");
    const old = await tokenFor(sub);
    expect((await me(api, old)).status).toBe(200); // and now in the token cache

    const caughtUp = () => api.logs.filter((l) => l.msg === "revocations: caught up").length;
    const before = caughtUp();
    const { status, body } = await api.graphql(REVOKE, {}, { token: old.token });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { revokeMyTokens: { clientMutationId: null } } });
    // The answer came only after this process heard its own cut-off: the very next request is refused.
    expect(caughtUp()).toBe(before + 1);

    const refused = await me(api, old);
    expect(refused.status).toBe(401);
    expect(refused.body.errors![0]!.extensions).toEqual(REVOKED);
  });

  it("keeps tokens issued after the call working, and is harmless to call again", async () => {
    const sub = uniqueSub("alice");
    await api.graphql(REVOKE, {}, { token: (await tokenFor(sub)).token });
    const fresh = await tokenFor(sub, 0);
    expect(await me(api, fresh)).toEqual({ status: 200, body: { data: { tasks: { totalCount: 0 } } } });
    // Again, with the fresh token: it revokes only what came before this second.
    expect((await api.graphql(REVOKE, {}, { token: fresh.token })).status).toBe(200);
    expect((await me(api, fresh)).status).toBe(200);
  });

  it("refuses a token without iat once the user has a cut-off, and only then", async () => {
    const sub = uniqueSub("alice");
    const noIat = { sub, token: await sign({ sub, iat: undefined }, userKey) };
    expect((await me(api, noIat)).status).toBe(200);
    await api.graphql(REVOKE, {}, { token: (await tokenFor(sub, 0)).token });
    const refused = await me(api, noIat);
    expect(refused.status).toBe(401);
    expect(refused.body.errors![0]!.extensions).toEqual(REVOKED);
  });

  it("cannot touch another user: bob's token and data stay, and the mutation takes no user", async () => {
    const [alice, bob] = [await tokenFor(uniqueSub("alice")), await tokenFor(uniqueSub("bob"))];
    const bobsTask = await createTask(api, bob, "Bob's task");
    const named = await api.graphql(
      `mutation ($u: String!) { revokeMyTokens(input: { userId: $u }) { clientMutationId } }`,
      { u: bob.sub },
      { token: alice.token },
    );
    expect(named.body).toEqual({ errors: [expect.objectContaining({ extensions: { code: "BAD_USER_INPUT" } })] });

    expect((await api.graphql(REVOKE, {}, { token: alice.token })).status).toBe(200);
    expect((await me(api, alice)).status).toBe(401);
    // bob: still signed in, task still there, no cut-off.
    expect(await me(api, bob)).toEqual({ status: 200, body: { data: { tasks: { totalCount: 1 } } } });
    const { rows } = await db.query(
      "select (select count(*)::int from app_public.tasks where id = $1) as tasks, " +
        "(select count(*)::int from app_private.token_cutoffs where user_id = $2) as cutoffs",
      [bobsTask, bob.sub],
    );
    expect(rows).toEqual([{ tasks: 1, cutoffs: 0 }]);
  });

  it("is refused to an anonymous caller (FORBIDDEN)", async () => {
    const { body } = await api.graphql(REVOKE);
    expect(body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
  });

  it("closes the user's open sockets with older tokens (4401), and only those", async () => {
    const sub = uniqueSub("alice");
    const [old, bob] = [await tokenFor(sub), await tokenFor(uniqueSub("bob"))];
    const doomed = connect(api, old);
    await new Changes(doomed.client, "taskChanged", api).live(old);
    const bobs = connect(api, bob);
    const bobsChanges = new Changes(bobs.client, "taskChanged", api);
    await bobsChanges.live(bob);

    const started = performance.now();
    await api.graphql(REVOKE, {}, { token: old.token });
    const closed = await within(doomed.closed, 1000, "the revoked socket to close");
    const ms = Math.round(performance.now() - started);
    expect(closed).toEqual(
      expect.objectContaining({ code: CLOSE_CODES.unauthorized, reason: "Token revoked: sign in again" }),
    );

    // A socket with a token issued after the call opens and hears alice's changes; bob's was never closed.
    const fresh = await tokenFor(sub, 0);
    const again = new Changes(connect(api, fresh).client, "taskChanged", api);
    await again.live(fresh);
    const rowId = await createTask(api, bob, "Still here");
    expect(await bobsChanges.next()).toMatchObject({ event: "CREATED", rowId });
    process.stdout.write(`revocation: the revoked socket closed ${ms} ms after revokeMyTokens was sent\n`);
  });
});

describe("another API process sharing the database", () => {
  it("refuses the revoked token within 1 s, even from its token cache, and closes its sockets", async () => {
    const second = await startApi(); // its own pool, LISTEN connection and token cache
    others.push(second);
    const sub = uniqueSub("alice");
    const old = await tokenFor(sub);
    expect((await me(second, old)).status).toBe(200); // cached there now
    const socket = connect(second, old);
    await new Changes(socket.client, "taskChanged", second).live(old);

    const started = performance.now();
    const revoke = await api.graphql(REVOKE, {}, { token: old.token });
    const committed = performance.now();
    expect(revoke.status).toBe(200);
    const ms = await refusedAfter(second, old, started);
    expect(ms).toBeLessThan(1000);
    expect((await within(socket.closed, 1000, "the socket on the second process")).code).toBe(CLOSE_CODES.unauthorized);
    process.stdout.write(
      `revocation: refused on the second process ${Math.round(ms)} ms after revokeMyTokens was sent ` +
        `(${Math.round(performance.now() - committed)} ms after its response, socket closed by then)\n`,
    );
    expect((await me(second, old)).body.errors![0]!.extensions).toEqual(REVOKED);
  });

  it("refuses it after a restart, before any notification could have told it", async () => {
    const sub = uniqueSub("alice");
    const old = await tokenFor(sub);
    await api.graphql(REVOKE, {}, { token: old.token });
    const restarted = await startApi();
    others.push(restarted);
    const { status, body } = await me(restarted, old);
    expect(status).toBe(401);
    expect(body.errors![0]!.extensions).toEqual(REVOKED);
    expect((await me(restarted, await tokenFor(sub, 0))).status).toBe(200);
  });
});

describe("the operator's revoke_tokens()", () => {
  it("ends the user's sessions like revokeMyTokens does", async () => {
    const old = await tokenFor(uniqueSub("alice"));
    expect((await me(api, old)).status).toBe(200);
    const started = performance.now();
    await db.query("select app_private.revoke_tokens($1)", [old.sub]);
    expect(await refusedAfter(api, old, started)).toBeLessThan(1000);
  });
});

describe("while the LISTEN connection is lost", () => {
  it("does not honour a token revoked meanwhile: it asks the database until it has re-loaded", async () => {
    const own = await startApi();
    others.push(own);
    const sub = uniqueSub("alice");
    const old = await tokenFor(sub);
    expect((await me(own, old)).status).toBe(200);
    const loaded = () => own.logs.filter((l) => l.msg?.startsWith("revocations: cut-offs loaded")).length;
    expect(loaded()).toBe(1);

    const { rows } = await db.query(
      `select pg_terminate_backend(pid) as killed from pg_stat_activity
        where datname = current_database() and usename = $1 and application_name = $2`,
      [roleNames().authenticator, own.listenerName],
    );
    expect(rows).toEqual([{ killed: true }]);
    await waitFor(() => own.logs.some((l) => l.msg?.startsWith("revocations: LISTEN lost")), "the loss to be noticed");
    // The revocation's NOTIFY goes to nobody on this process.
    await db.query("select app_private.revoke_tokens($1)", [sub]);
    const refused = await me(own, old);
    expect(refused.status).toBe(401);
    expect(refused.body.errors![0]!.extensions).toEqual(REVOKED);

    // Once re-loaded (LISTEN first, then the load), the in-memory copy has it too.
    await waitFor(() => loaded() === 2, "the cut-offs to be re-loaded");
    expect((await me(own, old)).status).toBe(401);
    expect((await me(own, await tokenFor(sub, 0))).status).toBe(200);
  });
});

describe("a socket opened while the LISTEN connection is lost", () => {
  it("still closes (4401) when its user is revoked before the copy has caught up", async () => {
    const own = await startApi();
    others.push(own);
    const old = await tokenFor(uniqueSub("alice"));
    const lost = () => own.logs.some((l) => l.msg?.startsWith("revocations: LISTEN lost"));
    await db.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = $1`,
      [own.listenerName],
    );
    await waitFor(lost, "the loss to be noticed");
    const socket = connect(own, old); // checked in the database: no cut-off yet
    await new Changes(socket.client, "taskChanged", own).live(old);

    // Heard by NOTIFY if the listener is back by now, else found by the re-load: either way it ends.
    await db.query("select app_private.revoke_tokens($1)", [old.sub]);
    expect(await within(socket.closed, 5000, "the socket to close")).toEqual(
      expect.objectContaining({ code: CLOSE_CODES.unauthorized, reason: "Token revoked: sign in again" }),
    );
  });
});

describe("the hot path", () => {
  it("adds no database round trip to a valid request, for a user with a cut-off or without", async () => {
    const sub = uniqueSub("alice");
    await api.graphql(REVOKE, {}, { token: (await tokenFor(sub)).token });
    const users = [await tokenFor(sub, 0), await tokenFor(uniqueSub("bob"))];
    const queries = jest.spyOn(api.pool, "query"); // where the per-request fallback would go
    const before = api.connections();
    for (let i = 0; i < 5; i++) {
      for (const user of users) {
        const { status } = await api.graphql("{ tasks(first: 1) { nodes { rowId } } }", {}, { token: user.token });
        expect(status).toBe(200);
      }
    }
    // One connection per request (a one-step read: one transaction); nothing else touched the pool.
    expect(api.connections() - before).toBe(10);
    expect(queries).not.toHaveBeenCalled();
    queries.mockRestore();
  });
});

/** Waits for something the API logs; the limit only stops a broken test from hanging. */
async function waitFor(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
