/*
 * Idempotent mutations (Idempotency-Key): a retried mutation is answered with the
 * first response, byte for byte, and writes once — counted by the superuser, who
 * sees every row. Real server, real database, real concurrent requests.
 */
import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { startApi, type TestApi } from "../support/api";
import { SqlSession, useSqlSession } from "../support/sql";
import { newUser, type User } from "../support/tokens";

const CREATE = `mutation Create($task: TaskInput!) { createTask(input: { task: $task }) { task { rowId title } } }`;
const TWO_CREATES = `mutation Two($a: TaskInput!, $b: TaskInput!) {
  a: createTask(input: { task: $a }) { task { rowId } }
  b: createTask(input: { task: $b }) { task { rowId } }
}`;

interface Sent {
  status: number;
  headers: Headers;
  text: string;
  body: { data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }> };
}

async function send(api: TestApi, user: User | undefined, body: unknown, key?: string): Promise<Sent> {
  const response = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(user ? { authorization: `Bearer ${user.token}` } : {}),
      ...(key === undefined ? {} : { "idempotency-key": key }),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) };
}

describe("Idempotency-Key on mutations", () => {
  let api: TestApi;
  const db = useSqlSession({ autocommit: true });
  const tasksTitled = async (sub: string, title: string) =>
    Number(
      (
        await db().one<{ n: string }>("select count(*) as n from app_public.tasks where user_id = $1 and title = $2", [
          sub,
          title,
        ])
      ).n,
    );

  beforeAll(async () => {
    api = await startApi({ poolSize: 6 });
  });
  afterAll(() => api.close());

  it("replays the first response (status and body) on a retry, marked as a replay, and writes once", async () => {
    const alice = await newUser("idem-replay");
    const key = randomUUID();
    const title = `replayed ${key}`;
    const request = { query: CREATE, variables: { task: { title, priority: "HIGH" } } };

    const first = await send(api, alice, request, key);
    expect(first.status).toBe(200);
    expect(first.body.data.createTask.task.title).toBe(title);
    expect(first.headers.get("idempotent-replayed")).toBeNull();

    // The same variables with their keys in another order are the same request.
    const retry = await send(api, alice, { query: CREATE, variables: { task: { priority: "HIGH", title } } }, key);
    expect(retry.status).toBe(first.status);
    expect(retry.text).toBe(first.text);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await tasksTitled(alice.sub, title)).toBe(1);

    const third = await send(api, alice, request, key);
    expect(third.text).toBe(first.text);
    expect(await tasksTitled(alice.sub, title)).toBe(1);
  });

  it("stores the key and the write in one transaction: a mutation without a key still writes every time", async () => {
    const alice = await newUser("idem-nokey");
    const title = `unkeyed ${randomUUID()}`;
    await send(api, alice, { query: CREATE, variables: { task: { title } } });
    await send(api, alice, { query: CREATE, variables: { task: { title } } });
    expect(await tasksTitled(alice.sub, title)).toBe(2);
    const keys = await db().one<{ n: string }>(
      "select count(*) as n from app_hidden.idempotency_keys where user_id = $1",
      [alice.sub],
    );
    expect(keys.n).toBe("0");
  });

  it("refuses the same key with different variables or another operation: 422 IDEMPOTENCY_KEY_REUSED, nothing written", async () => {
    const alice = await newUser("idem-reuse");
    const key = randomUUID();
    const title = `first ${key}`;
    await send(api, alice, { query: CREATE, variables: { task: { title } } }, key);

    const other = await send(api, alice, { query: CREATE, variables: { task: { title: `second ${key}` } } }, key);
    expect(other.status).toBe(422);
    expect(other.body.errors).toEqual([
      {
        message: expect.stringContaining("different operation or different variables"),
        extensions: { code: "IDEMPOTENCY_KEY_REUSED" },
      },
    ]);
    expect(other.headers.get("idempotent-replayed")).toBeNull();

    const otherDocument = await send(
      api,
      alice,
      { query: TWO_CREATES, variables: { a: { title }, b: { title } } },
      key,
    );
    expect(otherDocument.status).toBe(422);
    expect(await tasksTitled(alice.sub, title)).toBe(1);
    expect(await tasksTitled(alice.sub, `second ${key}`)).toBe(0);
  });

  it("answers 10 concurrent duplicates with one write: the rest replay it or are told it is still running (409)", async () => {
    const alice = await newUser("idem-race");
    const key = randomUUID();
    const title = `raced ${key}`;
    const request = { query: CREATE, variables: { task: { title } } };

    const answers = await Promise.all(Array.from({ length: 10 }, () => send(api, alice, request, key)));

    expect(await tasksTitled(alice.sub, title)).toBe(1);
    const ran = answers.filter((a) => a.status === 200 && a.headers.get("idempotent-replayed") === null);
    const replayed = answers.filter((a) => a.headers.get("idempotent-replayed") === "true");
    const inUse = answers.filter((a) => a.status === 409);
    expect(ran).toHaveLength(1);
    expect(ran.length + replayed.length + inUse.length).toBe(10);
    for (const replay of replayed) expect(replay.text).toBe(ran[0]!.text);
    for (const busy of inUse) {
      expect(busy.body.errors?.[0]?.extensions).toEqual({ code: "IDEMPOTENCY_KEY_IN_USE", retryable: true });
      expect(busy.headers.get("retry-after")).toBe("1");
    }
    // Every one of them, retried now that the first has finished, gets its response.
    const retried = await send(api, alice, request, key);
    expect(retried.text).toBe(ran[0]!.text);
    process.stdout.write(
      `idempotency race: 10 concurrent → ${ran.length} ran, ${replayed.length} replayed, ${inUse.length} × 409; rows written: 1\n`,
    );
  });

  it("keeps keys per user: another user's identical key is independent", async () => {
    const alice = await newUser("idem-alice");
    const bob = await newUser("idem-bob");
    const key = randomUUID();
    const title = `shared key ${key}`;
    const request = { query: CREATE, variables: { task: { title } } };

    const mine = await send(api, alice, request, key);
    const theirs = await send(api, bob, request, key);

    expect(theirs.status).toBe(200);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    expect(theirs.body.data.createTask.task.rowId).not.toBe(mine.body.data.createTask.task.rowId);
    expect(await tasksTitled(alice.sub, title)).toBe(1);
    expect(await tasksTitled(bob.sub, title)).toBe(1);
  });

  /**
   * Sends a keyed mutation over a raw socket and destroys it: `after: "sent"` as soon as the
   * request is written (the server may or may not get to run it), `after: "head"` when the
   * response starts (so the mutation committed) — either way the client never reads an answer.
   */
  function sendAndHangUp(user: User, key: string, body: string, after: "sent" | "head"): Promise<void> {
    return new Promise<void>((resolve) => {
      const url = new URL(`${api.url}/graphql`);
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${user.token}`,
          "idempotency-key": key,
        },
      });
      req.on("error", () => resolve());
      req.on("response", () => {
        req.destroy();
        resolve();
      });
      req.end(body, () => {
        if (after === "sent") {
          req.destroy();
          resolve();
        }
      });
    });
  }

  /** Retries as a client would: again after Retry-After while the first attempt still runs (409). */
  async function retryUntilAnswered(user: User, request: unknown, key: string): Promise<Sent> {
    for (;;) {
      const answer = await send(api, user, request, key);
      if (answer.status !== 409) return answer;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it("replays, and writes once, when the response to a mutation that committed is lost", async () => {
    const alice = await newUser("idem-lost");
    const key = randomUUID();
    const title = `lost response ${key}`;
    const request = { query: CREATE, variables: { task: { title } } };

    await sendAndHangUp(alice, key, JSON.stringify(request), "head");
    const retry = await retryUntilAnswered(alice, request, key);

    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body.data.createTask.task.title).toBe(title);
    expect(await tasksTitled(alice.sub, title)).toBe(1);
  });

  it("writes exactly once when the connection is killed right after sending, whatever the server got to do", async () => {
    const alice = await newUser("idem-killed");
    const key = randomUUID();
    const title = `killed ${key}`;
    const request = { query: CREATE, variables: { task: { title } } };

    await sendAndHangUp(alice, key, JSON.stringify(request), "sent");
    const retry = await retryUntilAnswered(alice, request, key);

    expect(retry.status).toBe(200);
    expect(retry.body.data.createTask.task.title).toBe(title);
    expect(await tasksTitled(alice.sub, title)).toBe(1);
    // And from now on, whichever attempt ran, the key answers with that one response.
    const again = await send(api, alice, request, key);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.data.createTask.task.rowId).toBe(retry.body.data.createTask.task.rowId);
  });

  it("records a mutation that failed on the caller's input, and replays that failure", async () => {
    const alice = await newUser("idem-failed");
    const key = randomUUID();
    const request = { query: CREATE, variables: { task: { title: " " } } };
    const first = await send(api, alice, request, key);
    expect(first.body.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
    const retry = await send(api, alice, request, key);
    expect(retry.text).toBe(first.text);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
  });

  it("keeps what succeeded of a multi-field mutation with the key, in one transaction", async () => {
    const alice = await newUser("idem-two");
    const key = randomUUID();
    const title = `two ${key}`;
    const request = { query: TWO_CREATES, variables: { a: { title }, b: { title: " " } } };
    const first = await send(api, alice, request, key);
    expect(first.body.data.a.task.rowId).toEqual(expect.any(String));
    expect(first.body.data.b).toBeNull();
    const retry = await send(api, alice, request, key);
    expect(retry.text).toBe(first.text);
    expect(await tasksTitled(alice.sub, title)).toBe(1);
  });

  it("keeps nothing of a mutation whose response says to retry (TIMEOUT): no row, no key; the retry runs afresh", async () => {
    const slow = await startApi({ env: { STATEMENT_TIMEOUT_MS: "300" } });
    const alice = await newUser("idem-timeout");
    const key = randomUUID();
    const title = `timed out ${key}`;
    const created = await send(slow, alice, { query: CREATE, variables: { task: { title: "blocker" } } });
    const blockerId = created.body.data.createTask.task.rowId as string;
    const request = {
      query: `mutation Both($task: TaskInput!, $id: UUID!) {
        a: createTask(input: { task: $task }) { task { rowId } }
        b: updateTask(input: { rowId: $id, patch: { title: "changed" } }) { task { rowId } }
      }`,
      variables: { task: { title }, id: blockerId },
    };
    // Another session holds the row the second field updates, until the statement times out.
    const holder = await SqlSession.open({ autocommit: true });
    try {
      await holder.query("begin");
      await holder.query("select 1 from app_public.tasks where id = $1 for update", [blockerId]);
      const first = await send(slow, alice, request, key);
      expect(first.body.errors?.[0]?.extensions?.code).toBe("TIMEOUT");
      expect(first.body.data).toBeNull(); // field `a` ran, but was rolled back with the rest
      await holder.query("rollback");
      expect(await tasksTitled(alice.sub, title)).toBe(0);
      const keys = await db().query("select 1 from app_hidden.idempotency_keys where user_id = $1", [alice.sub]);
      expect(keys).toEqual([]);

      const retry = await send(slow, alice, request, key);
      expect(retry.status).toBe(200);
      expect(retry.headers.get("idempotent-replayed")).toBeNull();
      expect(retry.body.errors).toBeUndefined();
      expect(await tasksTitled(alice.sub, title)).toBe(1);
    } finally {
      await holder.close();
      await slow.close();
    }
  });

  it("holds one place in the caller's fair share for the whole keyed mutation, so a share of one cannot deadlock it", async () => {
    const narrow = await startApi({ env: { DATABASE_CONNECTIONS_PER_USER: "1", DATABASE_SHARE_WAIT_MS: "5000" } });
    try {
      const alice = await newUser("idem-share");
      const key = randomUUID();
      const title = `one share ${key}`;
      const request = { query: TWO_CREATES, variables: { a: { title }, b: { title } } };
      // The claim, two fields and the record all run on the connection the request holds.
      const answers = await Promise.all([0, 1, 2].map(() => send(narrow, alice, request, key)));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200]);
      expect(answers.filter((a) => a.headers.get("idempotent-replayed") === null)).toHaveLength(1);
      expect(await tasksTitled(alice.sub, title)).toBe(2);
    } finally {
      await narrow.close();
    }
  });

  it("ignores a key on a query, and an anonymous caller's key (no write either way)", async () => {
    const alice = await newUser("idem-query");
    const key = randomUUID();
    const query = await send(api, alice, { query: "{ currentUserId }" }, key);
    expect(query.status).toBe(200);
    expect(query.body).toEqual({ data: { currentUserId: alice.sub } });
    const again = await send(api, alice, { query: "{ currentUserId }" }, key);
    expect(again.headers.get("idempotent-replayed")).toBeNull();

    const anonymous = await send(api, undefined, { query: CREATE, variables: { task: { title: "x" } } }, key);
    expect(anonymous.body.errors?.[0]?.extensions?.code).not.toBe("INTERNAL");
    expect(anonymous.body.errors?.[0]?.extensions?.code).toEqual(expect.any(String));
  });

  it.each([
    ["empty", ""],
    ["too long", "k".repeat(256)],
    ["not ASCII", "clé"],
    ["a broken quoted string", '"abc'],
    ["a control character", "a\tb"],
  ])("refuses a key that is %s with 400 BAD_USER_INPUT, before any work", async (_what, key) => {
    const alice = await newUser("idem-bad");
    const title = `bad key ${randomUUID()}`;
    let answer: Sent;
    try {
      answer = await send(api, alice, { query: CREATE, variables: { task: { title } } }, key);
    } catch (error) {
      // fetch itself refuses some header values (non-ASCII); then the server never saw them.
      expect(String(error)).toMatch(/header|ByteString|invalid/i);
      return;
    }
    expect(answer.status).toBe(400);
    expect(answer.body.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "Idempotency-Key" });
    expect(await tasksTitled(alice.sub, title)).toBe(0);
  });

  it("accepts the draft's quoted form and 255 characters, and treats the quoted and bare forms as one key", async () => {
    const alice = await newUser("idem-quoted");
    const bare = `k-${randomUUID()}`;
    const title = `quoted ${bare}`;
    const request = { query: CREATE, variables: { task: { title } } };
    const first = await send(api, alice, request, `"${bare}"`);
    expect(first.status).toBe(200);
    const retry = await send(api, alice, request, bare);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await tasksTitled(alice.sub, title)).toBe(1);

    const long = await send(
      api,
      alice,
      { query: CREATE, variables: { task: { title: `long ${bare}` } } },
      "L".repeat(255),
    );
    expect(long.status).toBe(200);
  });

  it("allows the header in CORS preflights and exposes the replay header", async () => {
    const cors = await startApi({ env: { CORS_ORIGINS: "https://app.example" } });
    try {
      const preflight = await fetch(`${cors.url}/graphql`, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type,idempotency-key",
        },
      });
      expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("idempotency-key");
      const actual = await fetch(`${cors.url}/graphql`, {
        method: "POST",
        headers: { origin: "https://app.example", "content-type": "application/json" },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      expect(actual.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("idempotent-replayed");
    } finally {
      await cors.close();
    }
  });
});
