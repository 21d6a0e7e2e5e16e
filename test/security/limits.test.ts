/*
 * Hostile GraphQL and HTTP: every limit refuses with a clear code before any
 * database work, the limits are configurable, and a refused request leaves the
 * server answering normal ones.
 */
import { request } from "node:http";
import { Client } from "pg";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { newUser, type User } from "../support/tokens";

let api: TestApi;
let token: string;

beforeAll(async () => {
  api = await startApi({
    env: { MAX_QUERY_DEPTH: "6", MAX_ALIASES: "3", MAX_PAGE_SIZE: "50", MAX_BODY_BYTES: "2000" },
  });
  ({ token } = await newUser("mallory"));
});
afterAll(() => api.close());

async function refused(query: string, variables: Record<string, unknown> = {}) {
  const before = api.connections();
  const { body } = await api.graphql(query, variables, { token });
  expect(body.data ?? null).toBeNull();
  expect(api.connections()).toBe(before); // refused before any SQL
  return body.errors![0]!.extensions!;
}

it("refuses a query deeper than MAX_QUERY_DEPTH", async () => {
  const deep = `{ tasks { nodes { list { tasks { nodes { list { tasks { nodes { title } } } } } } } } }`;
  expect(await refused(deep)).toMatchObject({ code: "LIMIT_EXCEEDED", limit: "depth" });
});

it("refuses more aliases than MAX_ALIASES", async () => {
  const aliases = Array.from({ length: 5 }, (_, i) => `a${i}: currentUserId`).join(" ");
  expect(await refused(`{ ${aliases} }`)).toMatchObject({ code: "LIMIT_EXCEEDED", limit: "aliases" });
});

it("refuses a query whose cost exceeds MAX_QUERY_COST", async () => {
  const frugal = await startApi({ env: { MAX_QUERY_COST: "100" } });
  try {
    const fields = "rowId title description completed completedAt priority dueAt tags createdAt updatedAt";
    const wide = `{ tasks { nodes { ${fields} list { rowId name createdAt updatedAt tasks { nodes { ${fields} } } } } } }`;
    const { body } = await frugal.graphql(wide, {}, { token });
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: "LIMIT_EXCEEDED", limit: "cost" });
    expect((await frugal.graphql(`{ tasks { totalCount } }`, {}, { token })).body.errors).toBeUndefined();
  } finally {
    await frugal.close();
  }
});

it("refuses a directive flood", async () => {
  const flood = Array.from({ length: 30 }, () => "@include(if: true)").join(" ");
  expect(await refused(`{ currentUserId ${flood} }`)).toMatchObject({ code: "LIMIT_EXCEEDED", limit: "directives" });
});

it("refuses first/last above MAX_PAGE_SIZE, as a literal or a variable", async () => {
  expect(await refused(`{ tasks(first: 51) { nodes { title } } }`)).toMatchObject({
    code: "LIMIT_EXCEEDED",
    limit: "pageSize",
  });
  expect(await refused(`query ($n: Int) { tasks(last: $n) { nodes { title } } }`, { n: 1000 })).toMatchObject({
    limit: "pageSize",
  });
  const ok = await api.graphql(`{ tasks(first: 50) { totalCount } }`, {}, { token });
  expect(ok.body).toEqual({ data: { tasks: { totalCount: 0 } } });
});

it("answers 413 to a body over MAX_BODY_BYTES", async () => {
  const response = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: `{ currentUserId }`, variables: { pad: "x".repeat(5000) } }),
  });
  expect(response.status).toBe(413);
  expect(await response.json()).toMatchObject({
    errors: [{ extensions: { code: "LIMIT_EXCEEDED", limit: "bodySize" } }],
  });
});

it("refuses batched operations with 400", async () => {
  const response = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify([{ query: "{ currentUserId }" }, { query: "{ currentUserId }" }]),
  });
  expect(response.status).toBe(400);
  expect(await response.json()).toMatchObject({
    errors: [{ extensions: { code: "LIMIT_EXCEEDED", limit: "operations" } }],
  });
});

it("answers malformed JSON with 400 BAD_USER_INPUT", async () => {
  const response = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"query": "{ currentUserId }"',
  });
  expect(response.status).toBe(400);
  expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: "BAD_USER_INPUT" } }] });
});

it("answers 431 to oversized headers and keeps serving", async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${api.url}/graphql`, { method: "POST", headers: { "x-padding": "x".repeat(20_000) } });
    req.on("response", (res) => resolve(res.statusCode ?? 0));
    req.on("error", reject);
    req.end();
  });
  expect(status).toBe(431);
  const { body } = await api.graphql(`{ currentUserId }`, {}, { token });
  expect(body.data?.currentUserId).toMatch(/^mallory-/);
});

describe("statement_timeout", () => {
  let slow: User;
  let db: Client;
  beforeAll(async () => {
    slow = await newUser("slow");
    db = new Client({ connectionString: testDb.superuserUrl });
    await db.connect();
    // Enough rows that grouping them takes far longer than a millisecond.
    await db.query(
      `insert into app_public.tasks (user_id, title, tags)
       select $1, 'task ' || i, array['t' || (i % 50)] from generate_series(1, 30000) i`,
      [slow.sub],
    );
  });
  afterAll(async () => {
    await db.query("delete from app_public.tasks where user_id = $1", [slow.sub]);
    await db.end();
  });

  it("cancels a request that runs too long with TIMEOUT, and the connection serves the next request", async () => {
    const impatient = await startApi({
      env: { STATEMENT_TIMEOUT_MS: "1" },
      poolSize: 1,
    });
    try {
      const { body } = await impatient.graphql(
        `{ tasks(filter: { title: { includesInsensitive: "9" } }) { groupedAggregates(groupBy: TITLE) { keys } } }`,
        {},
        { token: slow.token },
      );
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: "TIMEOUT", retryable: true });
      const next = await impatient.graphql(`{ currentUserId }`, {}, { token: slow.token });
      expect(next.body).toEqual({ data: { currentUserId: slow.sub } });
    } finally {
      await impatient.close();
    }
  });
});
