/**
 * Every order the API offers — the default included, on tasks and lists, top level
 * and nested, forwards and backwards, with and without the common filters — reads
 * only the caller's rows, at a scale where the planner's choice matters.
 *
 * A Postgres of this file's own holds a million tasks (bench/seed.ts: 10,000 users,
 * the heaviest with ~37k tasks) plus users with 0, 1 and 100 tasks. Its statistics
 * are then told that user_id has only 20 distinct values, so the planner believes
 * every user owns ~50k rows: the guess under which walking a whole-table index
 * (the primary key, for the default order) and filtering looks cheap. The orders
 * are read from the schema itself, so an order added later is covered too.
 *
 * Each request's SQL is recorded as the API sends it, then explained (ANALYZE) as
 * that user under row-level security, once as sent and once as a generic plan (a
 * prepared statement's plan after five runs). A plan fails when it scans a table
 * other than through an index whose condition names user_id (a primary-key lookup
 * of one id aside), or when any node throws away more rows than the caller owns.
 * Not timed: benchmarks live in bench/.
 */
import { Client, escapeLiteral } from "pg";
import type { PlanNode } from "../../bench/plans";
import { seed } from "../../bench/seed";
import { roleNames } from "../../src/db/roles";
import { startApi, type TestApi } from "../support/api";
import { startOwnCluster, type OwnCluster } from "../support/cluster";
import { sign, userKey } from "../support/tokens";

const roles = roleNames();
const PREFIX = "orders-";
/** The users whose reads are planned, by how many tasks they own. */
const USERS = { none: `${PREFIX}none`, one: `${PREFIX}one`, hundred: `${PREFIX}hundred`, heaviest: `${PREFIX}1` };
type UserName = keyof typeof USERS;

interface Statement {
  text: string;
  values: unknown[];
}

/** A scan node as EXPLAIN (FORMAT JSON) describes it, with the fields judged here. */
interface ScanNode extends PlanNode {
  "Index Cond"?: string;
  "Recheck Cond"?: string;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  "Actual Loops"?: number;
}

let cluster: OwnCluster;
let api: TestApi;
let superuser: Client;
const tokens = {} as Record<UserName, string>;
const owned = {} as Record<UserName, { tasks: number; lists: number }>;
let taskOrders: string[];
let listOrders: string[];

/** The statements PostGraphile sends while `fn` runs (recorded from pg's Client, which the API's pool uses). */
async function recording(fn: () => Promise<void>): Promise<Statement[]> {
  const statements: Statement[] = [];
  const query = Client.prototype.query;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    const config = args[0] as string | { text?: string; values?: unknown[] };
    const text = typeof config === "string" ? config : config.text;
    const values = (typeof config === "string" ? args[1] : config.values) ?? [];
    if (text?.includes(`"app_public".`)) statements.push({ text, values: values as unknown[] });
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    await fn();
  } finally {
    Client.prototype.query = query;
  }
  return statements;
}

/** EXPLAIN ANALYZE of `statement` as `user`, under RLS, rolled back; `generic` plans it as a prepared statement would. */
async function explainAs(user: UserName, { text, values }: Statement, generic: boolean): Promise<PlanNode> {
  await superuser.query("begin");
  try {
    await superuser.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify({ sub: USERS[user] })]);
    await superuser.query(`set local role ${roles.user}`);
    let rows: Array<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>;
    if (generic) {
      await superuser.query("set local plan_cache_mode = force_generic_plan");
      await superuser.query(`prepare planned as ${text}`);
      const args = values.map((v) => (v === null ? "null" : escapeLiteral(String(v))));
      const execute = args.length > 0 ? `execute planned(${args.join(", ")})` : "execute planned";
      ({ rows } = await superuser.query(`explain (analyze, format json) ${execute}`));
      await superuser.query("deallocate planned");
    } else {
      ({ rows } = await superuser.query(`explain (analyze, format json) ${text}`, values));
    }
    return rows[0]!["QUERY PLAN"][0]!.Plan;
  } finally {
    await superuser.query("rollback");
  }
}

/** What in `plan` reads rows of users other than `user`: an empty list when nothing does. */
function otherUsersRowsRead(plan: PlanNode, user: UserName): string[] {
  const problems: string[] = [];
  const visit = (node: ScanNode) => {
    const table = node["Relation Name"];
    const where = `${node["Node Type"]}${table ? ` on ${table}` : ""}${node["Index Name"] ? ` using ${node["Index Name"]}` : ""}`;
    const removed =
      ((node["Rows Removed by Filter"] ?? 0) + (node["Rows Removed by Index Recheck"] ?? 0)) *
      (node["Actual Loops"] ?? 1);
    const mine = table === "lists" ? owned[user].lists : owned[user].tasks;
    if (table && removed > mine) problems.push(`${where} threw away ${removed} rows; ${user} owns ${mine}`);
    if (node["Node Type"] === "Seq Scan") problems.push(`${where}: a sequential scan`);
    const isIndexScan = /^(Index Scan|Index Only Scan|Bitmap Index Scan)$/.test(node["Node Type"]);
    if (isIndexScan && !(node["Index Cond"] ?? "").includes("user_id") && !isPrimaryKeyLookup(node)) {
      problems.push(`${where}: index condition ${node["Index Cond"] ?? "(none)"} does not name user_id`);
    }
    // A Bitmap Heap Scan is judged by the Bitmap Index Scans below it.
    for (const child of node.Plans ?? []) visit(child as ScanNode);
  };
  visit(plan as ScanNode);
  return problems;
}

/** `task(rowId:)` and friends: one row by its primary key, which reads nobody else's rows. */
function isPrimaryKeyLookup(node: ScanNode): boolean {
  return /_pkey$/.test(node["Index Name"] ?? "") && /^\(id = [^)]+\)$/.test(node["Index Cond"] ?? "");
}

/** Sends `query` as `user`; the plans of every statement it caused, as sent and generic, with their problems. */
async function problemsOf(user: UserName, query: string): Promise<string[]> {
  const statements = await recording(async () => {
    const { status, body } = await api.graphql(query, {}, { token: tokens[user] });
    expect({ query, status, errors: body.errors }).toEqual({ query, status: 200, errors: undefined });
  });
  if (statements.length === 0) throw new Error(`no SQL recorded for ${query}`);
  const problems: string[] = [];
  for (const statement of statements) {
    for (const generic of [false, true]) {
      for (const problem of otherUsersRowsRead(await explainAs(user, statement, generic), user)) {
        problems.push(`${generic ? "generic" : "custom"} plan: ${problem}`);
      }
    }
  }
  return problems;
}

async function enumValues(type: string): Promise<string[]> {
  const { body } = await api.graphql(
    `{ __type(name: "${type}") { enumValues { name } } }`,
    {},
    {
      token: tokens.one,
    },
  );
  return (body.data!.__type as { enumValues: Array<{ name: string }> }).enumValues.map((v) => v.name);
}

const TASK_FILTERS = [
  "",
  "filter: { completed: { equalTo: false } }",
  'filter: { dueAt: { lessThan: "2100-01-01T00:00:00Z" } }',
  'filter: { title: { includesInsensitive: "task 1" } }',
  'filter: { tags: { contains: ["work"] } }',
];

beforeAll(async () => {
  cluster = await startOwnCluster("order-plans");
  superuser = new Client(cluster.superuserUrl);
  await superuser.connect();
  await seed(superuser, { prefix: PREFIX, tasks: 1_000_000 });
  await superuser.query(
    "insert into app_public.lists (user_id, name) values ($1, 'Only'), ($2, 'Home'), ($2, 'Work')",
    [USERS.one, USERS.hundred],
  );
  await superuser.query(
    `insert into app_public.tasks (user_id, list_id, title)
     select $1, (select id from app_public.lists where user_id = $1), 'The one task'`,
    [USERS.one],
  );
  await superuser.query(
    `insert into app_public.tasks (user_id, list_id, title, tags)
     select $1, (select id from app_public.lists where user_id = $1 order by name limit 1 offset n % 2),
            'Task ' || n, case when n % 3 = 0 then '{work}' else '{}' end::app_public.tag[]
       from generate_series(1, 100) n`,
    [USERS.hundred],
  );
  // The guess that favours the whole-table walk: 20 users, so ~50,000 rows each.
  await superuser.query("alter table app_public.tasks alter column user_id set (n_distinct = 20)");
  await superuser.query("alter table app_public.lists alter column user_id set (n_distinct = 20)");
  await superuser.query("analyze app_public.tasks, app_public.lists");
  for (const [name, sub] of Object.entries(USERS) as Array<[UserName, string]>) {
    tokens[name] = await sign({ sub }, userKey);
    const { rows } = await superuser.query<{ tasks: number; lists: number }>(
      `select (select count(*) from app_public.tasks where user_id = $1)::int as tasks,
              (select count(*) from app_public.lists where user_id = $1)::int as lists`,
      [sub],
    );
    owned[name] = rows[0]!;
  }
  api = await startApi({ authUrl: cluster.authUrl });
  taskOrders = await enumValues("TaskOrderBy");
  listOrders = await enumValues("ListOrderBy");
}, 600_000);

afterAll(async () => {
  await api?.close();
  await superuser?.end();
  await cluster?.destroy();
});

describe("the data the plans are judged on", () => {
  it("has a million tasks, users who own 0, 1, 100 and tens of thousands, and a guess of ~50k rows each", async () => {
    const { rows } = await superuser.query<{ tasks: number; distinct: number }>(
      `select (select count(*) from app_public.tasks)::int as tasks,
              (select n_distinct from pg_stats where tablename = 'tasks' and attname = 'user_id')::int as distinct`,
    );
    expect(rows[0]!.tasks).toBeGreaterThanOrEqual(1_000_000);
    expect(rows[0]!.distinct).toBe(20);
    expect(owned.none.tasks).toBe(0);
    expect(owned.one.tasks).toBe(1);
    expect(owned.hundred.tasks).toBe(100);
    expect(owned.heaviest.tasks).toBeGreaterThan(30_000);
  });

  it("offers the orders it has indexes for, and no unordered NATURAL", () => {
    expect(taskOrders).toContain("PRIMARY_KEY_ASC");
    expect(taskOrders).toContain("TITLE_DESC");
    expect(taskOrders).not.toContain("NATURAL");
    expect(listOrders).toContain("NAME_ASC");
    expect(listOrders).not.toContain("NATURAL");
  });
});

describe.each(Object.keys(USERS) as UserName[])("as a user who owns %s", (user) => {
  it("reads only their own tasks in every order, with and without each common filter", async () => {
    const problems: string[] = [];
    for (const order of [undefined, ...taskOrders]) {
      for (const filter of TASK_FILTERS) {
        const args = [`first: 5`, order ? `orderBy: [${order}]` : "", filter].filter(Boolean).join(", ");
        const query = `{ tasks(${args}) { nodes { title } } }`;
        problems.push(...(await problemsOf(user, query)).map((p) => `${query}: ${p}`));
      }
    }
    expect(problems).toEqual([]);
  }, 600_000);

  it("reads only their own tasks backwards (last:) in every order", async () => {
    const problems: string[] = [];
    for (const order of [undefined, ...taskOrders]) {
      const query = `{ tasks(last: 5${order ? `, orderBy: [${order}]` : ""}) { nodes { title } } }`;
      problems.push(...(await problemsOf(user, query)).map((p) => `${query}: ${p}`));
    }
    expect(problems).toEqual([]);
  }, 600_000);

  it("reads only their own lists in every order, and a list's tasks in every order", async () => {
    const problems: string[] = [];
    for (const order of [undefined, ...listOrders]) {
      const query = `{ lists(first: 5${order ? `, orderBy: [${order}]` : ""}) { nodes { name } } }`;
      problems.push(...(await problemsOf(user, query)).map((p) => `${query}: ${p}`));
    }
    for (const order of [undefined, ...taskOrders]) {
      const query = `{ lists(first: 2) { nodes { tasks(first: 5${order ? `, orderBy: [${order}]` : ""}) { nodes { title } } } } }`;
      problems.push(...(await problemsOf(user, query)).map((p) => `${query}: ${p}`));
    }
    expect(problems).toEqual([]);
  }, 600_000);
});

describe("the check itself", () => {
  it("fails the default order when the (user_id, id) index is missing: the primary key is walked", async () => {
    // The seeded data and the API stay; only this transaction's view of the indexes changes.
    const statements = await recording(async () => {
      await api.graphql("{ tasks(first: 5) { nodes { title } } }", {}, { token: tokens.none });
    });
    await superuser.query("begin");
    try {
      await superuser.query("drop index app_public.tasks_user_id_id_idx");
      await superuser.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify({ sub: USERS.none })]);
      await superuser.query(`set local role ${roles.user}`);
      const { rows } = await superuser.query(`explain (analyze, format json) ${statements[0]!.text}`);
      const problems = otherUsersRowsRead(rows[0]["QUERY PLAN"][0].Plan, "none");
      expect(problems.join("\n")).toMatch(/tasks_pkey.*threw away \d{6,} rows|does not name user_id/);
    } finally {
      await superuser.query("rollback");
    }
  }, 120_000);
});
