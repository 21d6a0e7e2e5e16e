/*
 * Hostile GraphQL and HTTP: every limit refuses with a clear code before any
 * database work, the limits are configurable, and a refused request leaves the
 * server answering normal ones.
 */
import { request } from "node:http";
import { Client } from "pg";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { openSocket, type Socket } from "../support/liveUpdates";
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

it("refuses an operation that could read more rows than MAX_QUERY_COST, counting exactly to the limit", async () => {
  const frugal = await startApi({ env: { MAX_QUERY_COST: "100" } });
  try {
    // 10 tasks, each with its list and n of the list's tasks: 10 × (1 + 1 + n) rows.
    const nested = (n: number) =>
      `{ tasks(first: 10) { nodes { title list { tasks(first: ${n}) { nodes { title } } } } } }`;
    const before = frugal.connections();
    const { body } = await frugal.graphql(nested(9), {}, { token });
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]).toEqual({
      message:
        "this operation could read up to 110 rows, more than the 100 allowed; " +
        "ask for smaller pages (first/last) or fewer nested connections",
      extensions: { code: "LIMIT_EXCEEDED", limit: "cost" },
    });
    expect(frugal.connections()).toBe(before);
    expect((await frugal.graphql(nested(8), {}, { token })).body).toEqual({ data: { tasks: { nodes: [] } } });
  } finally {
    await frugal.close();
  }
});

it("refuses a directive flood", async () => {
  const flood = Array.from({ length: 30 }, () => "@include(if: true)").join(" ");
  expect(await refused(`{ currentUserId ${flood} }`)).toMatchObject({ code: "LIMIT_EXCEEDED", limit: "directives" });
});

it("refuses first/last above MAX_PAGE_SIZE, as a literal, a variable or a variable's default", async () => {
  expect(await refused(`{ tasks(first: 51) { nodes { title } } }`)).toMatchObject({
    code: "LIMIT_EXCEEDED",
    limit: "pageSize",
  });
  expect(await refused(`query ($n: Int) { tasks(last: $n) { nodes { title } } }`, { n: 1000 })).toMatchObject({
    limit: "pageSize",
  });
  for (const argument of ["first", "last"]) {
    const byDefault = `query ($n: Int = 100000) { tasks(${argument}: $n) { nodes { title } } }`;
    expect(await refused(byDefault)).toEqual({ code: "LIMIT_EXCEEDED", limit: "pageSize" });
    // The same variable, sent: the value sent wins over the default.
    expect((await api.graphql(byDefault, { n: 50 }, { token })).body).toEqual({ data: { tasks: { nodes: [] } } });
  }
  const nested = `{ lists(first: 1) { nodes { tasks(first: 51) { totalCount } } } }`;
  expect(await refused(nested)).toMatchObject({ limit: "pageSize" });
  const ok = await api.graphql(`{ tasks(first: 50) { totalCount } }`, {}, { token });
  expect(ok.body).toEqual({ data: { tasks: { totalCount: 0 } } });
});

it("refuses negative first, last and offset with BAD_USER_INPUT before any SQL", async () => {
  for (const argument of ["first", "last", "offset"]) {
    expect(await refused(`{ tasks(${argument}: -1) { nodes { title } } }`)).toEqual({ code: "BAD_USER_INPUT" });
    const variable = `query ($n: Int) { tasks(${argument}: $n) { nodes { title } } }`;
    expect(await refused(variable, { n: -1 })).toEqual({ code: "BAD_USER_INPUT" });
    const byDefault = `query ($n: Int = -1) { tasks(${argument}: $n) { nodes { title } } }`;
    expect(await refused(byDefault)).toEqual({ code: "BAD_USER_INPUT" });
  }
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

describe("with the shipped defaults: every connection bounded, every operation priced", () => {
  let shipped: TestApi;
  let hoarder: User;
  let db: Client;
  let ids: string[];
  const sockets: Socket[] = [];
  const ROWS = 130;

  beforeAll(async () => {
    shipped = await startApi();
    hoarder = await newUser("hoarder");
    db = new Client({ connectionString: testDb.superuserUrl });
    await db.connect();
    // One list holding all of the user's tasks: more than one default page of them.
    const { rows } = await db.query<{ id: string }>(
      `with list as (insert into app_public.lists (user_id, name) values ($1, 'everything') returning id)
       insert into app_public.tasks (user_id, list_id, title)
       select $1, list.id, 'task ' || i from list, generate_series(1, ${ROWS}) i returning id`,
      [hoarder.sub],
    );
    ids = rows.map((row) => row.id).sort();
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.client.dispose()));
  });
  afterAll(async () => {
    await db.query("delete from app_public.tasks where user_id = $1", [hoarder.sub]);
    await db.query("delete from app_public.lists where user_id = $1", [hoarder.sub]);
    await db.end();
    await shipped.close();
  });

  const read = async (query: string, variables: Record<string, unknown> = {}) => {
    const { body } = await shipped.graphql(query, variables, { token: hoarder.token });
    expect(body.errors).toBeUndefined();
    return body.data!;
  };

  it("reads the first 100 rows of a connection given no first or last, and pageInfo says there are more", async () => {
    const page = `query ($after: Cursor) {
      tasks(after: $after, orderBy: PRIMARY_KEY_ASC) { totalCount pageInfo { hasNextPage endCursor } nodes { rowId } }
    }`;
    const { tasks: first } = await read(page);
    expect(first.totalCount).toBe(ROWS);
    expect(first.nodes).toHaveLength(100);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const { tasks: rest } = await read(page, { after: first.pageInfo.endCursor });
    expect(rest.nodes).toHaveLength(ROWS - 100);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    expect([...first.nodes, ...rest.nodes].map((task: { rowId: string }) => task.rowId)).toEqual(ids);
  });

  it("bounds nested connections and a null first the same way, and leaves last alone", async () => {
    const { lists } = await read(`{ lists { nodes { tasks { pageInfo { hasNextPage } nodes { rowId } } } } }`);
    expect(lists.nodes[0].tasks.nodes).toHaveLength(100);
    expect(lists.nodes[0].tasks.pageInfo.hasNextPage).toBe(true);
    const { tasks: nullFirst } = await read(`query ($n: Int) { tasks(first: $n) { nodes { rowId } } }`, { n: null });
    expect(nullFirst.nodes).toHaveLength(100);
    const { tasks: last } = await read(`{ tasks(last: 3, orderBy: PRIMARY_KEY_ASC) { nodes { rowId } } }`);
    expect(last.nodes.map((task: { rowId: string }) => task.rowId)).toEqual(ids.slice(-3));
  });

  it("refuses the issue's nested and aliased operations as too costly, before any SQL", async () => {
    const nested = `{ tasks { nodes { list { tasks { nodes { list { tasks { nodes { rowId } } } } } } } } }`;
    const branch = `tasks { nodes { list { tasks { nodes { title description tags createdAt } } } } }`;
    const aliased = `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: ${branch}`).join(" ")} }`;
    for (const [query, rows] of [
      [nested, 1_020_200],
      [aliased, 153_000],
    ] as const) {
      const before = shipped.connections();
      const { body } = await shipped.graphql(query, {}, { token: hoarder.token });
      expect(body.data ?? null).toBeNull();
      expect(body.errors).toEqual([
        {
          message: expect.stringMatching(
            new RegExp(`^this operation could read up to ${rows} rows, more than the 20000`),
          ),
          extensions: { code: "LIMIT_EXCEEDED", limit: "cost" },
        },
      ]);
      expect(shipped.connections()).toBe(before);
    }
    // One branch alone is within the budget: 100 tasks, their list, and 100 of its tasks each.
    const { tasks } = await read(`{ ${branch} }`);
    expect(tasks.nodes).toHaveLength(100);
    expect(tasks.nodes[0].list.tasks.nodes).toHaveLength(100);
  });

  it("applies the same rules to subscriptions over the WebSocket, before any SQL", async () => {
    const socket = openSocket(shipped, { authorization: `Bearer ${hoarder.token}` });
    sockets.push(socket);
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      [
        "subscription ($n: Int = 100000) { listChanged { list { tasks(first: $n) { nodes { title } } } } }",
        {},
        { code: "LIMIT_EXCEEDED", limit: "pageSize" },
      ],
      [
        "subscription ($n: Int) { listChanged { list { tasks(last: $n) { nodes { title } } } } }",
        { n: -1 },
        { code: "BAD_USER_INPUT" },
      ],
      [
        "subscription { taskChanged { task { list { tasks { nodes { list { tasks { nodes { rowId } } } } } } } } }",
        {},
        { code: "LIMIT_EXCEEDED", limit: "cost" },
      ],
    ];
    const before = shipped.connections();
    for (const [query, variables, extensions] of cases) {
      await expect(socket.client.iterate({ query, variables }).next()).rejects.toEqual([
        expect.objectContaining({ extensions }),
      ]);
    }
    expect(shipped.connections()).toBe(before);
  });
});
