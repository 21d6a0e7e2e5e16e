/*
 * Issue 12's share of the pool per user, and the response cap, on the real API.
 *
 * A hog is made deterministic with a row lock: the test (as superuser) locks one of
 * the hog's tasks, and the hog's updates of it each hold a pool connection, blocked,
 * until the test lets go. Nothing waits by sleeping: the test watches pg_stat_activity.
 */
import { Client } from "pg";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { Changes, createTask, gql, openSocket, within } from "../support/liveUpdates";
import { newUser } from "../support/tokens";

const UPDATE = `mutation ($id: UUID!, $t: String!) { updateTask(input: { rowId: $id, patch: { title: $t } }) { task { title } } }`;
const WHO = `{ currentUserId }`;

/** Polls until `check` holds; fails the test after `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("a fair share of the pool per user", () => {
  let api: TestApi;
  let db: Client;
  let locker: Client;
  let lockerPid: number;

  beforeAll(async () => {
    // 4 connections: one LISTENs for live updates, the hog may hold 2, one is left for everyone else.
    api = await startApi({
      poolSize: 4,
      env: {
        DATABASE_CONNECTIONS_PER_USER: "2",
        DATABASE_SHARE_WAIT_MS: "300",
        DATABASE_POOL_TIMEOUT_MS: "1000",
      },
    });
    db = new Client({ connectionString: testDb.superuserUrl });
    locker = new Client({ connectionString: testDb.superuserUrl });
    await Promise.all([db.connect(), locker.connect()]);
    lockerPid = (await locker.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
  });

  afterAll(async () => {
    await Promise.all([db.end(), locker.end()]);
    await api.close();
  });

  /** The statements waiting, directly or behind one another, for the test's row lock: each holds a connection. */
  const blocked = async () =>
    (
      await db.query<{ n: number }>(
        `with recursive waiting(pid) as (
           select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))
           union
           select activity.pid from pg_stat_activity activity join waiting on waiting.pid = any(pg_blocking_pids(activity.pid))
         )
         select count(*)::int as n from waiting`,
        [lockerPid],
      )
    ).rows[0]!.n;

  /** Locks `taskId` and has `hog` send `count` updates of it; resolves once two of them hold connections, blocked. */
  async function hogOn(hog: { token: string }, taskId: string, count: number) {
    await locker.query("begin");
    await locker.query("select 1 from app_public.tasks where id = $1 for update", [taskId]);
    const updates = Array.from({ length: count }, (_, i) =>
      api.graphql(UPDATE, { id: taskId, t: `hog ${i}` }, { token: hog.token }),
    );
    await until(async () => (await blocked()) === 2, 5000, "two blocked updates");
    return updates;
  }

  it("answers a user beyond its share 429 RATE_LIMITED with Retry-After, while another user is served", async () => {
    const hog = await newUser("hog");
    const bystander = await newUser("bystander");
    const taskId = await createTask(api, hog, "contended");
    const updates = await hogOn(hog, taskId, 4);
    try {
      // The bystander, while the hog holds its whole share: served every time, never 503.
      for (let i = 0; i < 5; i++) {
        const answer = await api.graphql(WHO, {}, { token: bystander.token });
        expect({ status: answer.status, body: answer.body }).toEqual({
          status: 200,
          body: { data: { currentUserId: bystander.sub } },
        });
      }
      // The hog's own further request, unrelated to the lock: its share is full.
      const refused = await api.graphql(WHO, {}, { token: hog.token });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(refused.body.errors).toHaveLength(1);
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED", retryable: true });
      expect(await blocked()).toBe(2); // still exactly the share, nothing more
    } finally {
      await locker.query("rollback");
    }
    const answers = await Promise.all(updates);
    const outcomes = answers.map((a) => `${a.status} ${a.body.errors?.[0]?.extensions?.code ?? "OK"}`).sort();
    // Two held the share and finished once the lock was gone; two waited 300 ms and were refused.
    expect(outcomes).toEqual(["200 OK", "200 OK", "429 RATE_LIMITED", "429 RATE_LIMITED"]);
    // The share is free again.
    expect((await api.graphql(WHO, {}, { token: hog.token })).body).toEqual({ data: { currentUserId: hog.sub } });
  });

  it("counts a subscription event's re-read against the subscriber's share", async () => {
    const hog = await newUser("hog");
    const bystander = await newUser("bystander");
    const socket = openSocket(api, { authorization: `Bearer ${hog.token}` });
    try {
      const changes = new Changes(socket.client, "taskChanged", api);
      await changes.live(hog);
      const [locked, other] = [await createTask(api, hog, "locked"), await createTask(api, hog, "other")];
      expect([(await changes.next()).rowId, (await changes.next()).rowId]).toEqual([locked, other]);
      const updates = await hogOn(hog, locked, 2);
      let outcomes: string[];
      try {
        // A change the hog did not make through the API: its event is read again as the hog.
        await db.query("update app_public.tasks set title = 'changed elsewhere' where id = $1", [other]);
        await expect(changes.next()).rejects.toThrow(/"code":"RATE_LIMITED"/);
        // The bystander is served meanwhile.
        expect((await api.graphql(WHO, {}, { token: bystander.token })).body).toEqual({
          data: { currentUserId: bystander.sub },
        });
      } finally {
        await locker.query("rollback");
        outcomes = (await Promise.all(updates)).map((a) => `${a.status}`);
      }
      expect(outcomes).toEqual(["200", "200"]);
      // With the share free, events are read again as usual (both of the hog's updates, then this one).
      await db.query("update app_public.tasks set title = 'changed again' where id = $1", [other]);
      const seen = [await changes.next(), await changes.next(), await changes.next()];
      expect(seen.find((change) => change.rowId === other)?.node).toMatchObject({ title: "changed again" });
    } finally {
      await socket.client.dispose();
    }
  });
});

describe("the response size cap", () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startApi({ env: { MAX_RESPONSE_BYTES: "4000" } });
  });

  afterAll(() => api.close());

  it("refuses a larger response with LIMIT_EXCEEDED (responseBytes), as a client error, and serves smaller ones", async () => {
    const user = await newUser("big");
    for (let i = 0; i < 3; i++) await createTask(api, user, `${i} ${"x".repeat(490)}`);
    const query = `{ tasks { nodes { title } } }`;
    // 3 × 500 bytes fit under 4,000; 10 do not.
    expect((await api.graphql(query, {}, { token: user.token })).body.data?.tasks.nodes).toHaveLength(3);
    for (let i = 3; i < 10; i++) await createTask(api, user, `${i} ${"x".repeat(490)}`);

    const legacy = await api.graphql(query, {}, { token: user.token });
    expect(legacy.status).toBe(200);
    expect(legacy.body).toEqual({
      errors: [
        {
          message: expect.stringContaining("larger than 4000 bytes"),
          extensions: { code: "LIMIT_EXCEEDED", limit: "responseBytes" },
        },
      ],
    });
    const modern = await api.graphql(
      query,
      {},
      {
        token: user.token,
        headers: { accept: "application/graphql-response+json" },
      },
    );
    expect(modern.status).toBe(400);
    expect(modern.body.errors?.[0]?.extensions).toEqual({ code: "LIMIT_EXCEEDED", limit: "responseBytes" });
    // A client mistake, not the server's: nothing at error level.
    expect(api.logs.filter((line) => line.level >= 50)).toEqual([]);
    // The same rows a page at a time fit.
    const page = await api.graphql(`{ tasks(first: 3) { nodes { title } } }`, {}, { token: user.token });
    expect(page.body.data?.tasks.nodes).toHaveLength(3);
  });

  it("applies to each subscription event", async () => {
    const user = await newUser("bigevents");
    const socket = openSocket(api, { authorization: `Bearer ${user.token}` });
    try {
      const taskId = await createTask(api, user, "long description");
      const events = socket.client.iterate({ query: `subscription { taskChanged { rowId task { description } } }` });
      // Until the subscription is live, each change may go unheard; the first event heard is an oversized one.
      type Event = IteratorResult<{ data?: unknown; errors?: any }>;
      let first: Event | null = null;
      let pending: Promise<Event> | undefined;
      for (let attempt = 0; !first; attempt++) {
        if (attempt > 50) throw new Error("the subscription never became live");
        const description = `${attempt} ${"d".repeat(5000)}`;
        await gql(
          api,
          user,
          `mutation ($id: UUID!, $d: String) { updateTask(input: { rowId: $id, patch: { description: $d } }) { clientMutationId } }`,
          {
            id: taskId,
            d: description,
          },
        );
        pending ??= events.next();
        first = await Promise.race([pending, new Promise<null>((resolve) => setTimeout(() => resolve(null), 200))]);
      }
      expect(first.done).toBe(false);
      expect(first.value.errors?.[0]?.extensions).toEqual({ code: "LIMIT_EXCEEDED", limit: "responseBytes" });
      await within(events.return!(undefined), 2000, "unsubscribing");
    } finally {
      await socket.client.dispose();
    }
  });
});
