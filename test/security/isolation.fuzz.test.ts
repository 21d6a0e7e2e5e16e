/*
 * Property-based isolation fuzzing: four users with real HS256 tokens drive random
 * interleavings of every mutation and read the API has — creating, updating and
 * deleting their own rows, other users' rows, deleted rows and random ids, filing
 * tasks into their own, foreign and missing lists, reading, filtering and
 * aggregating — while an in-memory model says what each user should have.
 *
 * Checked all along:
 *  1. every read shows the user exactly the model's rows (a snapshot compares all
 *     tasks and lists, field by field, in order), and every mutation payload is the
 *     row the model predicts;
 *  2. after every mutation the database itself, read as the superuser, equals the
 *     model for all users: an operation by one user never changes another's rows;
 *  3. totals, filters and grouped aggregates equal what the model computes from
 *     that user's rows only;
 *  4. every error is the one the model expects (NOT_FOUND for a row that is not
 *     yours, VALIDATION_FAILED with its field, BAD_USER_INPUT for a NUL character):
 *     anything else — INTERNAL, FORBIDDEN, a success that should have failed —
 *     fails the run, and fast-check shrinks it to a short sequence of operations.
 *
 * Some users act alone, some at once (a Burst: one request each, concurrently, through
 * the API's shared connection pool). Each run starts from four fresh users
 * (uniqueSub), so runs are independent and replayable, and rows of other suites
 * never interfere.
 *
 * An operation is a mutation or a read (one root field: `tasks`, `lists`, `task`,
 * `node`, an aggregate connection …); read requests batch several reads. The test
 * prints how many ran, in how many HTTP requests, and fails below the target.
 *
 * FUZZ_OPERATIONS=100000 runs more operations (default 10,000). FUZZ_SEED and
 * FUZZ_PATH replay a reported failure; FUZZ_SHRINK_SECONDS (default 60) bounds the
 * shrinking.
 */
import fc from "fast-check";
import { Client } from "pg";
import { jwtConfig, startApi, type GraphQLResponse, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { hmacKey, sign, testSecret, uniqueSub } from "../support/tokens";

const TARGET_OPERATIONS = Number(process.env.FUZZ_OPERATIONS || 10_000);
const USERS = 4;
const MAX_COMMANDS = 200;
/** task(rowId:) lookups batched in one readTask request. */
const READ_TASKS = 3;
const READ_TASK_IDS = Array.from({ length: READ_TASKS }, (_, i) => `t${i}`);
jest.setTimeout(Math.max(300_000, TARGET_OPERATIONS * 30));

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

const PRIORITIES = ["NONE", "LOW", "MEDIUM", "HIGH", "URGENT"] as const;
type Priority = (typeof PRIORITIES)[number];

interface TaskRow {
  rowId: string;
  title: string;
  description: string | null;
  completed: boolean;
  /** Microseconds since the epoch, as Postgres keeps them. */
  completedAt: bigint | null;
  priority: Priority;
  /** Milliseconds since the epoch (inputs have millisecond precision). */
  dueAt: number | null;
  tags: string[];
  listId: string | null;
  createdAt: bigint;
  updatedAt: bigint;
  /** False after the database changed the row on its own (deleting its list): adopt the next value seen, if not older. */
  updatedAtKnown: boolean;
}

interface ListRow {
  rowId: string;
  name: string;
  createdAt: bigint;
  updatedAt: bigint;
}

interface UserState {
  sub: string;
  token: string;
  tasks: Map<string, TaskRow>;
  lists: Map<string, ListRow>;
}

interface Model {
  users: UserState[];
  /** Ids of rows deleted during the run: nobody may find them again. */
  deletedTasks: string[];
  deletedLists: string[];
}

interface Real {
  api: TestApi;
  db: Client;
}

/** What the database trims from text (migration 000003): ASCII and Unicode spaces. */
const WHITESPACE =
  " \t\n\u000b\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff";
function trimWs(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && WHITESPACE.includes(value[start]!)) start++;
  while (end > start && WHITESPACE.includes(value[end - 1]!)) end--;
  return value.slice(start, end);
}
/** char_length: code points, not UTF-16 units. */
const charLength = (value: string) => [...value].length;
const hasNul = (value: unknown) => typeof value === "string" && value.includes("\u0000");
const inRange = (value: string, max: number) => charLength(value) >= 1 && charLength(value) <= max;
/** Trimmed, repeats dropped, first occurrence's position kept; a null array is stored as no tags. */
const normalizeTags = (tags: ReadonlyArray<string | null> | null) => [
  ...new Set((tags ?? []).map((tag) => trimWs(tag!))),
];

const nodeId = (type: "Task" | "List", rowId: string) => Buffer.from(JSON.stringify([type, rowId])).toString("base64");

/** Postgres timestamps as the API prints them ("2026-11-26T12:26:02.138613+00:00") in microseconds. */
function micros(iso: string): bigint {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!match) throw new Error(`unexpected timestamp format: ${iso}`);
  const ms = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(ms)) throw new Error(`unparsable timestamp: ${iso}`);
  return BigInt(ms) * 1000n + BigInt((match[2] ?? "").padEnd(6, "0"));
}
const optionalMicros = (iso: string | null) => (iso === null ? null : micros(iso));
const millis = (iso: string | null) => (iso === null ? null : Number(micros(iso) / 1000n));

// ---------------------------------------------------------------------------
// Operations, as fast-check generates them
// ---------------------------------------------------------------------------

type Who = "own" | "foreign" | "deleted" | "random";
/** A row to aim at, resolved against the model when the operation runs. */
interface Target {
  who: Who;
  n: number;
  uuid: string;
}
type ListChoice = { who: "none" } | Target;

interface TaskFields {
  title?: string | null;
  description?: string | null;
  priority?: Priority | null;
  completed?: boolean | null;
  dueAt?: string | null;
  tags?: Array<string | null> | null;
  list?: ListChoice;
}

type Filter =
  | { completed: boolean; negate: boolean }
  | { priority: Priority; op: "equalTo" | "notEqualTo" | "lessThan" | "greaterThanOrEqualTo" }
  | { priorityIn: Priority[] }
  | { tags: string[]; op: "contains" | "overlaps" }
  | { listIsNull: boolean }
  | { listEquals: Target }
  | { dueIsNull: boolean }
  | { due: string; op: "lessThan" | "greaterThanOrEqualTo" }
  | { rowIdIn: Target[] }
  | { and: Filter[] }
  | { or: Filter[] }
  | { not: Filter };

type Action = { actor: number } & (
  | { kind: "createTask"; input: TaskFields & { title: string } }
  | { kind: "updateTask"; target: Target; patch: TaskFields }
  | { kind: "deleteTask"; target: Target }
  | { kind: "createList"; name: string }
  | { kind: "updateList"; target: Target; name: string }
  | { kind: "deleteList"; target: Target }
  | { kind: "snapshot"; task: Target; list: Target }
  | { kind: "readTask"; targets: Target[] }
  | { kind: "filter"; filter: Filter; order: number }
  | { kind: "aggregates"; filter: Filter }
);

const weighted = <T>(...pairs: Array<[number, fc.Arbitrary<T>]>) =>
  fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

const targetArb = (own: number, foreign: number, deleted: number, random: number): fc.Arbitrary<Target> =>
  fc.record({
    who: weighted<Who>(
      [own, fc.constant("own")],
      [foreign, fc.constant("foreign")],
      [deleted, fc.constant("deleted")],
      [random, fc.constant("random")],
    ),
    n: fc.nat(),
    uuid: fc.uuid(),
  });
const listChoiceArb: fc.Arbitrary<ListChoice> = weighted<ListChoice>(
  [5, fc.constant({ who: "none" as const })],
  [12, targetArb(8, 2, 1, 1)],
);

/** Surrounding whitespace the database trims. */
const padArb = weighted(
  [3, fc.constant("")],
  [
    2,
    fc
      .array(fc.constantFrom(" ", "\t", "\n", "\r", "  ", "\r\n"), { minLength: 1, maxLength: 3 })
      .map((a) => a.join("")),
  ],
);
const padded = (core: fc.Arbitrary<string>) =>
  fc.tuple(padArb, core, padArb).map(([before, text, after]) => before + text + after);
/** Text for a field of at most `max` characters: mostly short, sometimes blank, at the limit or NUL-bearing. */
const textArb = (max: number) =>
  weighted(
    [60, padded(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 24 }))],
    [20, padded(fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }))],
    [5, padArb], // blank: nothing left after trimming
    [5, padded(fc.integer({ min: max - 1, max: max + 1 }).map((n) => "x".repeat(n)))],
    [1, fc.constant("a\u0000b")],
  );

const TAG_WORDS = ["home", "work", "errand", "Home", "a", "b", "x y", "t1", "t2"];
const rawTagArb: fc.Arbitrary<string | null> = weighted<string | null>(
  [100, padded(fc.constantFrom(...TAG_WORDS))],
  [30, padded(fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }))],
  [2, padArb], // blank once trimmed
  [1, fc.constant("t".repeat(51))],
  [1, fc.constant(null)],
  [10, fc.constant(` ${"w".repeat(50)} `)], // 52 characters, 50 once trimmed: valid
  [3, fc.constant("\u00a0\u3000")], // blank by Unicode's measure
);
const tagArb = rawTagArb;
const tagsArb = weighted<Array<string | null> | null>(
  [24, fc.array(tagArb, { maxLength: 6 })],
  [
    2,
    fc.array(
      fc.integer({ min: 0, max: 25 }).map((i) => ` t${i}`),
      { minLength: 15, maxLength: 30 },
    ),
  ],
  [1, fc.constant(null)],
);
const dueArb = fc
  .date({ min: new Date("1900-01-01T00:00:00Z"), max: new Date("2200-01-01T00:00:00Z"), noInvalidDate: true })
  .map((d) => d.toISOString());
const priorityArb = fc.constantFrom(...PRIORITIES);

const taskFieldsArb = {
  description: weighted<string | null>(
    [60, fc.string({ maxLength: 30 })],
    [20, fc.constant(null)],
    [1, fc.constant("d".repeat(10_001))],
  ),
  priority: weighted<Priority | null>([40, priorityArb], [1, fc.constant(null)]),
  completed: weighted<boolean | null>([40, fc.boolean()], [1, fc.constant(null)]),
  dueAt: fc.option(dueArb, { nil: null, freq: 4 }),
  tags: tagsArb,
  list: listChoiceArb,
};

const actorArb = fc.nat({ max: USERS - 1 });
const taskTargetArb = targetArb(8, 3, 1, 1);
const listTargetArb = targetArb(6, 3, 1, 1);

const filterLeafArb: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({ completed: fc.boolean(), negate: fc.boolean() }),
  fc.record({
    priority: priorityArb,
    op: fc.constantFrom("equalTo", "notEqualTo", "lessThan", "greaterThanOrEqualTo"),
  }),
  fc.record({ priorityIn: fc.uniqueArray(priorityArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({
    tags: fc.uniqueArray(fc.constantFrom(...TAG_WORDS), { maxLength: 2 }),
    op: fc.constantFrom("contains", "overlaps"),
  }),
  fc.record({ listIsNull: fc.boolean() }),
  fc.record({ listEquals: listTargetArb }),
  fc.record({ dueIsNull: fc.boolean() }),
  fc.record({ due: dueArb, op: fc.constantFrom("lessThan", "greaterThanOrEqualTo") }),
  fc.record({ rowIdIn: fc.array(taskTargetArb, { minLength: 1, maxLength: 4 }) }),
);
const filterArb: fc.Arbitrary<Filter> = weighted<Filter>(
  [5, filterLeafArb],
  [1, fc.record({ and: fc.array(filterLeafArb, { minLength: 1, maxLength: 3 }) })],
  [1, fc.record({ or: fc.array(filterLeafArb, { minLength: 1, maxLength: 3 }) })],
  [
    1,
    fc.record({
      not: fc.oneof(filterLeafArb, fc.record({ or: fc.array(filterLeafArb, { minLength: 1, maxLength: 2 }) })),
    }),
  ],
);

/** Each ordering ends in a unique key, so the expected order is exact. */
const ORDERS: Array<{ orderBy: string[]; compare: (a: TaskRow, b: TaskRow) => number }> = [
  { orderBy: ["PRIMARY_KEY_ASC"], compare: () => 0 },
  {
    orderBy: ["PRIORITY_DESC", "ROW_ID_ASC"],
    compare: (a, b) => PRIORITIES.indexOf(b.priority) - PRIORITIES.indexOf(a.priority),
  },
  { orderBy: ["COMPLETED_ASC", "ROW_ID_ASC"], compare: (a, b) => Number(a.completed) - Number(b.completed) },
  {
    // Postgres puts nulls last in ascending order.
    orderBy: ["DUE_AT_ASC", "ROW_ID_ASC"],
    compare: (a, b) => (a.dueAt ?? Infinity) - (b.dueAt ?? Infinity) || 0,
  },
  { orderBy: ["CREATED_AT_DESC", "ROW_ID_ASC"], compare: (a, b) => Number(b.createdAt - a.createdAt) },
];

const actionArb: fc.Arbitrary<Action> = weighted<Action>(
  [
    16,
    fc.record({
      actor: actorArb,
      kind: fc.constant("createTask" as const),
      input: fc.record({ title: textArb(500), ...taskFieldsArb }, { requiredKeys: ["title", "list"] }),
    }),
  ],
  [
    18,
    fc.record({
      actor: actorArb,
      kind: fc.constant("updateTask" as const),
      target: taskTargetArb,
      patch: fc.record(
        { title: weighted<string | null>([30, textArb(500)], [1, fc.constant(null)]), ...taskFieldsArb },
        { requiredKeys: [] },
      ),
      // An empty patch is a client mistake (BAD_USER_INPUT), whoever's row it names.
    }),
  ],
  [5, fc.record({ actor: actorArb, kind: fc.constant("deleteTask" as const), target: taskTargetArb })],
  [6, fc.record({ actor: actorArb, kind: fc.constant("createList" as const), name: textArb(200) })],
  [
    3,
    fc.record({ actor: actorArb, kind: fc.constant("updateList" as const), target: listTargetArb, name: textArb(200) }),
  ],
  [3, fc.record({ actor: actorArb, kind: fc.constant("deleteList" as const), target: listTargetArb })],
  [
    10,
    fc.record({ actor: actorArb, kind: fc.constant("snapshot" as const), task: taskTargetArb, list: listTargetArb }),
  ],
  [
    6,
    fc.record({
      actor: actorArb,
      kind: fc.constant("readTask" as const),
      targets: fc.array(taskTargetArb, { minLength: READ_TASKS, maxLength: READ_TASKS }),
    }),
  ],
  [
    8,
    fc.record({
      actor: actorArb,
      kind: fc.constant("filter" as const),
      filter: filterArb,
      order: fc.nat({ max: ORDERS.length - 1 }),
    }),
  ],
  [6, fc.record({ actor: actorArb, kind: fc.constant("aggregates" as const), filter: filterArb })],
);

// ---------------------------------------------------------------------------
// Resolving targets against the model
// ---------------------------------------------------------------------------

function ownerOf(model: Model, actor: number, target: Target, table: "tasks" | "lists"): number | undefined {
  if (target.who === "own") return actor;
  if (target.who !== "foreign") return undefined;
  // Another user; if they have no rows of this kind, the first other user who has.
  for (let step = 0; step < USERS - 1; step++) {
    const other = (actor + 1 + ((target.n + step) % (USERS - 1))) % USERS;
    if (model.users[other]![table].size > 0) return other;
  }
  return undefined;
}

/** The id a target names: one of the actor's rows, another user's, a deleted one or a random uuid. */
function resolve(model: Model, actor: number, target: Target, table: "tasks" | "lists"): string {
  const owner = ownerOf(model, actor, target, table);
  const rows = owner === undefined ? [] : [...model.users[owner]![table].keys()];
  if (rows.length > 0) return rows[Math.floor(target.n / USERS) % rows.length]!;
  const deleted = table === "tasks" ? model.deletedTasks : model.deletedLists;
  if (target.who === "deleted" && deleted.length > 0) return deleted[target.n % deleted.length]!;
  return target.uuid;
}

/** What an id turned out to be, for the statistics: the actor's, another user's, deleted, or never existing. */
function kindOf(model: Model, actor: number, id: string | undefined, table: "tasks" | "lists"): string {
  if (id === undefined) return "none";
  if (model.users[actor]![table].has(id)) return "own";
  if (model.users.some((u) => u[table].has(id))) return "foreign";
  return (table === "tasks" ? model.deletedTasks : model.deletedLists).includes(id) ? "deleted" : "random";
}

// ---------------------------------------------------------------------------
// What each operation should do
// ---------------------------------------------------------------------------

type Expected =
  | { ok: true }
  | { ok: false; code: "NOT_FOUND" | "BAD_USER_INPUT" }
  | { ok: false; code: "VALIDATION_FAILED"; fields: string[] };

/** The outcome of writing `fields` to a task the actor owns (or creates), by the documented rules. */
function expectTaskWrite(user: UserState, fields: TaskFields, listId: string | null | undefined): Expected {
  if (hasNul(fields.title) || hasNul(fields.description)) return { ok: false, code: "BAD_USER_INPUT" };
  const violations: string[] = [];
  if ("title" in fields && (fields.title == null || !inRange(trimWs(fields.title), 500))) violations.push("title");
  if (fields.description != null && charLength(fields.description) > 10_000) violations.push("description");
  if (fields.completed === null) violations.push("completed");
  if (fields.priority === null) violations.push("priority");
  if (
    fields.tags &&
    (fields.tags.some((tag) => tag === null || !inRange(trimWs(tag), 50)) || normalizeTags(fields.tags).length > 20)
  ) {
    violations.push("tags");
  }
  if (listId != null && !user.lists.has(listId)) violations.push("listId");
  return violations.length ? { ok: false, code: "VALIDATION_FAILED", fields: violations } : { ok: true };
}

/**
 * The outcome of updating a task that is not the actor's (someone else's, deleted or
 * never existing): NOT_FOUND, whatever the patch — except for what the database
 * refuses while reading the request, before looking for the row: a NUL character, a
 * tag that is null or not 1–50 characters once trimmed. Either way foreign and
 * missing ids are answered alike, which is what keeps other users' rows invisible.
 */
function expectInvisibleTaskUpdate(fields: TaskFields): Expected {
  if (hasNul(fields.title) || hasNul(fields.description)) return { ok: false, code: "BAD_USER_INPUT" };
  if (fields.tags?.some((tag) => tag === null || !inRange(trimWs(tag), 50))) {
    return { ok: false, code: "VALIDATION_FAILED", fields: ["tags"] };
  }
  return { ok: false, code: "NOT_FOUND" };
}

function expectListName(name: string): Expected {
  if (hasNul(name)) return { ok: false, code: "BAD_USER_INPUT" };
  return inRange(trimWs(name), 200) ? { ok: true } : { ok: false, code: "VALIDATION_FAILED", fields: ["name"] };
}

// ---------------------------------------------------------------------------
// GraphQL documents
// ---------------------------------------------------------------------------

const TASK = `id rowId userId title description completed completedAt priority dueAt tags listId createdAt updatedAt`;
const LIST = `id rowId userId name createdAt updatedAt`;
const GROUPS = `
  byPriority: groupedAggregates(groupBy: PRIORITY) { keys distinctCount { rowId } }
  byCompleted: groupedAggregates(groupBy: COMPLETED) { keys distinctCount { rowId } }
  byList: groupedAggregates(groupBy: LIST_ID) { keys distinctCount { rowId } }`;

const Q = {
  createTask: `mutation ($task: TaskInput!) { createTask(input: { task: $task }) { task { ${TASK} list { rowId } } } }`,
  updateTask: `mutation ($rowId: UUID!, $patch: TaskPatch!) {
    updateTask(input: { rowId: $rowId, patch: $patch }) { task { ${TASK} list { rowId } } }
  }`,
  deleteTask: `mutation ($rowId: UUID!) { deleteTask(input: { rowId: $rowId }) { task { ${TASK} } } }`,
  createList: `mutation ($name: String!) { createList(input: { list: { name: $name } }) { list { ${LIST} } } }`,
  updateList: `mutation ($rowId: UUID!, $name: String!) {
    updateList(input: { rowId: $rowId, patch: { name: $name } }) { list { ${LIST} } }
  }`,
  deleteList: `mutation ($rowId: UUID!) { deleteList(input: { rowId: $rowId }) { list { ${LIST} } } }`,
  snapshot: `query ($task: UUID!, $list: UUID!, $taskNode: ID!, $listNode: ID!) {
    currentUserId
    tasks { totalCount nodes { ${TASK} list { rowId } } }
    lists { totalCount nodes { ${LIST} tasks { totalCount nodes { rowId } } } }
    task(rowId: $task) { rowId userId }
    list(rowId: $list) { rowId userId }
    taskNode: node(id: $taskNode) { id }
    listNode: node(id: $listNode) { id }
  }`,
  readTask: `query (${READ_TASK_IDS.map((i) => `$${i}: UUID!`).join(", ")}) {
    ${READ_TASK_IDS.map((i) => `${i}: task(rowId: $${i}) { ${TASK} list { rowId name } }`).join("\n")}
  }`,
  filter: `query ($filter: TaskFilter!, $orderBy: [TaskOrderBy!]) {
    tasks(filter: $filter, orderBy: $orderBy) { totalCount nodes { rowId } }
    lists { nodes { rowId tasks(filter: $filter) { totalCount nodes { rowId } } } }
  }`,
  aggregates: `query ($filter: TaskFilter!) {
    all: tasks { totalCount aggregates { distinctCount { rowId } } ${GROUPS} }
    filtered: tasks(filter: $filter) { totalCount aggregates { distinctCount { rowId } } ${GROUPS} }
    lists { totalCount nodes { rowId tasks { totalCount ${GROUPS} } } }
  }`,
};

// ---------------------------------------------------------------------------
// Comparing what the API and the database say with the model
// ---------------------------------------------------------------------------

const json = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? `${v}n` : v), 2);

class Mismatch extends Error {
  override name = "Mismatch";
}
function fail(message: string, details: Record<string, unknown>): never {
  throw new Mismatch(`${message}\n${json(details)}`);
}

/** The model's row in the shape of `normalizeTask`. */
const viewTask = (user: UserState, t: TaskRow) => ({
  id: nodeId("Task", t.rowId),
  rowId: t.rowId,
  userId: user.sub,
  title: t.title,
  description: t.description,
  completed: t.completed,
  completedAt: t.completedAt,
  priority: t.priority,
  dueAt: t.dueAt,
  tags: t.tags,
  listId: t.listId,
  createdAt: t.createdAt,
  updatedAt: t.updatedAt,
});
const normalizeTask = (node: Record<string, any>) => ({
  id: node.id,
  rowId: node.rowId,
  userId: node.userId,
  title: node.title,
  description: node.description,
  completed: node.completed,
  completedAt: optionalMicros(node.completedAt),
  priority: node.priority,
  dueAt: millis(node.dueAt),
  tags: node.tags,
  listId: node.listId,
  createdAt: micros(node.createdAt),
  updatedAt: micros(node.updatedAt),
});
const viewList = (user: UserState, l: ListRow) => ({
  id: nodeId("List", l.rowId),
  rowId: l.rowId,
  userId: user.sub,
  name: l.name,
  createdAt: l.createdAt,
  updatedAt: l.updatedAt,
});
const normalizeList = (node: Record<string, any>) => ({
  id: node.id,
  rowId: node.rowId,
  userId: node.userId,
  name: node.name,
  createdAt: micros(node.createdAt),
  updatedAt: micros(node.updatedAt),
});

const byRowId = <T extends { rowId: string }>(a: T, b: T) => (a.rowId < b.rowId ? -1 : a.rowId > b.rowId ? 1 : 0);
const sortedTasks = (user: UserState) => [...user.tasks.values()].sort(byRowId);
const sortedLists = (user: UserState) => [...user.lists.values()].sort(byRowId);

/** A task the database changed on its own (its list was deleted): adopt the time it reports, if not older. */
function adoptUpdatedAt(task: TaskRow | undefined, seen: bigint) {
  if (!task || task.updatedAtKnown) return;
  if (seen < task.updatedAt) fail("updatedAt went backwards", { task, seen });
  task.updatedAt = seen;
  task.updatedAtKnown = true;
}

function expectEqual(actual: unknown, expected: unknown, message: string, context: Record<string, unknown> = {}) {
  try {
    expect(actual).toEqual(expected);
  } catch (error) {
    fail(`${message}\n${(error as Error).message}`, context);
  }
}

/** Grouped aggregates as { key: count }; a null key (no list) as "". */
function groups(rows: Array<{ keys: Array<string | null>; distinctCount: { rowId: string } }>) {
  const result: Record<string, number> = {};
  for (const row of rows) result[row.keys.map((k) => k ?? "").join(",")] = Number(row.distinctCount.rowId);
  return result;
}
function countBy(tasks: TaskRow[], key: (t: TaskRow) => string) {
  const result: Record<string, number> = {};
  for (const task of tasks) result[key(task)] = (result[key(task)] ?? 0) + 1;
  return result;
}
const expectedGroups = (tasks: TaskRow[]) => ({
  byPriority: countBy(tasks, (t) => t.priority.toLowerCase()),
  byCompleted: countBy(tasks, (t) => String(t.completed)),
  byList: countBy(tasks, (t) => t.listId ?? ""),
});
const actualGroups = (connection: Record<string, any>) => ({
  byPriority: groups(connection.byPriority),
  byCompleted: groups(connection.byCompleted),
  byList: groups(connection.byList),
});

/** Filters in GraphQL form, with targets resolved. */
function filterInput(model: Model, actor: number, filter: Filter): Record<string, unknown> {
  if ("and" in filter) return { and: filter.and.map((f) => filterInput(model, actor, f)) };
  if ("or" in filter) return { or: filter.or.map((f) => filterInput(model, actor, f)) };
  if ("not" in filter) return { not: filterInput(model, actor, filter.not) };
  if ("completed" in filter) return { completed: { [filter.negate ? "notEqualTo" : "equalTo"]: filter.completed } };
  if ("priority" in filter) return { priority: { [filter.op]: filter.priority } };
  if ("priorityIn" in filter) return { priority: { in: filter.priorityIn } };
  if ("tags" in filter) return { tags: { [filter.op]: filter.tags } };
  if ("listIsNull" in filter) return { listId: { isNull: filter.listIsNull } };
  if ("listEquals" in filter) return { listId: { equalTo: resolve(model, actor, filter.listEquals, "lists") } };
  if ("dueIsNull" in filter) return { dueAt: { isNull: filter.dueIsNull } };
  if ("due" in filter) return { dueAt: { [filter.op]: filter.due } };
  return { rowId: { in: filter.rowIdIn.map((t) => resolve(model, actor, t, "tasks")) } };
}

/** SQL's three-valued logic: null (unknown) rows are filtered out, and `not unknown` is unknown. */
function matches(filter: Record<string, any>, t: TaskRow): boolean | null {
  if (filter.and) {
    const values = (filter.and as Array<Record<string, any>>).map((f) => matches(f, t));
    return values.includes(false) ? false : values.includes(null) ? null : true;
  }
  if (filter.or) {
    const values = (filter.or as Array<Record<string, any>>).map((f) => matches(f, t));
    return values.includes(true) ? true : values.includes(null) ? null : false;
  }
  if (filter.not) {
    const value = matches(filter.not, t);
    return value === null ? null : !value;
  }
  const [[field, condition]] = Object.entries(filter) as [[string, Record<string, any>]];
  const [[op, operand]] = Object.entries(condition) as [[string, any]];
  switch (`${field}.${op}`) {
    case "completed.equalTo":
      return t.completed === operand;
    case "completed.notEqualTo":
      return t.completed !== operand;
    case "priority.equalTo":
      return t.priority === operand;
    case "priority.notEqualTo":
      return t.priority !== operand;
    case "priority.lessThan":
      return PRIORITIES.indexOf(t.priority) < PRIORITIES.indexOf(operand);
    case "priority.greaterThanOrEqualTo":
      return PRIORITIES.indexOf(t.priority) >= PRIORITIES.indexOf(operand);
    case "priority.in":
      return (operand as Priority[]).includes(t.priority);
    case "tags.contains":
      return (operand as string[]).every((tag) => t.tags.includes(tag));
    case "tags.overlaps":
      return (operand as string[]).some((tag) => t.tags.includes(tag));
    case "listId.isNull":
      return (t.listId === null) === operand;
    case "listId.equalTo":
      return t.listId === null ? null : t.listId === operand;
    case "dueAt.isNull":
      return (t.dueAt === null) === operand;
    case "dueAt.lessThan":
      return t.dueAt === null ? null : t.dueAt < Date.parse(operand);
    case "dueAt.greaterThanOrEqualTo":
      return t.dueAt === null ? null : t.dueAt >= Date.parse(operand);
    case "rowId.in":
      return (operand as string[]).includes(t.rowId);
  }
  throw new Error(`no model for filter ${field}.${op}`);
}

// ---------------------------------------------------------------------------
// Running operations
// ---------------------------------------------------------------------------

interface Stats {
  /** Mutations plus reads: each root field of a request, checked on its own. */
  operations: number;
  mutations: number;
  reads: number;
  /** HTTP requests: a read request batches several reads. */
  requests: number;
  runs: number;
  outcomes: Record<string, number>;
}
const stats: Stats = { operations: 0, mutations: 0, reads: 0, requests: 0, runs: 0, outcomes: {} };
const count = (key: string) => (stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1);

interface Prepared {
  actor: number;
  query: string;
  variables: Record<string, unknown>;
  mutation: boolean;
  /** How many reads (root fields) a query batches. */
  reads: number;
  /** Checks the response against the model and applies the operation to the model. */
  verify(body: GraphQLResponse["body"]): void;
}

/** A mutation's result: its payload when the model expects success, or the one expected error. */
function outcome(
  body: GraphQLResponse["body"],
  field: string,
  expected: Expected,
  label: string,
  context: Record<string, unknown>,
): Record<string, any> | undefined {
  const error = body.errors?.[0];
  const got = error ? `${error.extensions?.code}${error.extensions?.field ? `(${error.extensions.field})` : ""}` : "ok";
  count(`${label}: ${got}`);
  if (expected.ok) {
    if (body.errors || !body.data?.[field]) fail(`${label}: expected success`, { ...context, response: body });
    return body.data[field];
  }
  const fine =
    body.errors?.length === 1 &&
    error!.extensions?.code === expected.code &&
    (expected.code !== "VALIDATION_FAILED" || expected.fields.includes(error!.extensions?.field)) &&
    JSON.stringify(error!.path) === JSON.stringify([field]) &&
    // The same words for someone else's row and for none at all.
    (expected.code !== "NOT_FOUND" ||
      error!.message === `no ${/Task/.test(field) ? "task" : "list"} with this id was found`) &&
    body.data?.[field] == null;
  if (!fine) fail(`${label}: expected ${expected.code}`, { ...context, expected, response: body });
  return undefined;
}

function prepare(model: Model, action: Action): Prepared {
  const user = model.users[action.actor]!;
  const base = { actor: action.actor, mutation: false, reads: 0 };
  const context = { action };
  switch (action.kind) {
    case "createTask": {
      const { list, ...input } = action.input;
      const listId = list && list.who !== "none" ? resolve(model, action.actor, list, "lists") : undefined;
      const label = `createTask/list:${kindOf(model, action.actor, listId, "lists")}`;
      const expected = expectTaskWrite(user, input, listId);
      return {
        ...base,
        mutation: true,
        query: Q.createTask,
        variables: { task: { ...input, ...(listId !== undefined ? { listId } : {}) } },
        verify(body) {
          const payload = outcome(body, "createTask", expected, label, { ...context, listId });
          if (!payload) return;
          const got = normalizeTask(payload.task);
          const row: TaskRow = {
            rowId: got.rowId,
            title: trimWs(input.title),
            description: input.description ?? null,
            completed: input.completed ?? false,
            completedAt: input.completed ? got.createdAt : null,
            priority: input.priority ?? "NONE",
            dueAt: input.dueAt ? Date.parse(input.dueAt) : null,
            tags: normalizeTags(input.tags ?? []),
            listId: listId ?? null,
            createdAt: got.createdAt,
            updatedAt: got.createdAt,
            updatedAtKnown: true,
          };
          expectEqual(got, viewTask(user, row), `${label}: the created task`, context);
          expectEqual(payload.task.list?.rowId ?? null, row.listId, `${label}: task.list`, context);
          if ([...model.users].some((u) => u.tasks.has(row.rowId))) fail("a created task reused an id", { row });
          user.tasks.set(row.rowId, row);
        },
      };
    }
    case "updateTask": {
      const rowId = resolve(model, action.actor, action.target, "tasks");
      const { list, ...patch } = action.patch;
      const listId =
        list === undefined ? undefined : list.who === "none" ? null : resolve(model, action.actor, list, "lists");
      const before = user.tasks.get(rowId);
      const label = `updateTask/${kindOf(model, action.actor, rowId, "tasks")}`;
      const empty = Object.keys(patch).length === 0 && listId === undefined;
      const expected: Expected = empty
        ? { ok: false, code: "BAD_USER_INPUT" }
        : before
          ? expectTaskWrite(user, patch, listId)
          : expectInvisibleTaskUpdate(patch);
      return {
        ...base,
        mutation: true,
        query: Q.updateTask,
        variables: { rowId, patch: { ...patch, ...(listId !== undefined ? { listId } : {}) } },
        verify(body) {
          const payload = outcome(body, "updateTask", expected, label, { ...context, rowId, listId, before });
          if (!payload || !before) return;
          const got = normalizeTask(payload.task);
          adoptUpdatedAt(before, got.updatedAt);
          if (got.updatedAt < before.updatedAt) fail("updatedAt went backwards", { before, got });
          const completed = patch.completed ?? before.completed;
          const row: TaskRow = {
            ...before,
            ...("title" in patch ? { title: trimWs(patch.title!) } : {}),
            ...("description" in patch ? { description: patch.description ?? null } : {}),
            ...("priority" in patch ? { priority: patch.priority! } : {}),
            ...("dueAt" in patch ? { dueAt: patch.dueAt ? Date.parse(patch.dueAt) : null } : {}),
            ...("tags" in patch ? { tags: normalizeTags(patch.tags!) } : {}),
            ...(listId !== undefined ? { listId } : {}),
            completed,
            // Set when the task becomes completed (in the same transaction as updatedAt), kept while it stays so.
            completedAt: !completed ? null : before.completed ? before.completedAt : got.updatedAt,
            updatedAt: got.updatedAt,
          };
          expectEqual(got, viewTask(user, row), `${label}: the updated task`, { ...context, before });
          expectEqual(payload.task.list?.rowId ?? null, row.listId, `${label}: task.list`, context);
          user.tasks.set(rowId, row);
        },
      };
    }
    case "deleteTask": {
      const rowId = resolve(model, action.actor, action.target, "tasks");
      const before = user.tasks.get(rowId);
      const label = `deleteTask/${kindOf(model, action.actor, rowId, "tasks")}`;
      return {
        ...base,
        mutation: true,
        query: Q.deleteTask,
        variables: { rowId },
        verify(body) {
          const expected: Expected = before ? { ok: true } : { ok: false, code: "NOT_FOUND" };
          const payload = outcome(body, "deleteTask", expected, label, { ...context, rowId });
          if (!payload || !before) return;
          const got = normalizeTask(payload.task);
          adoptUpdatedAt(before, got.updatedAt);
          expectEqual(got, viewTask(user, before), `${label}: the deleted task`, context);
          user.tasks.delete(rowId);
          model.deletedTasks.push(rowId);
        },
      };
    }
    case "createList": {
      const expected = expectListName(action.name);
      return {
        ...base,
        mutation: true,
        query: Q.createList,
        variables: { name: action.name },
        verify(body) {
          const payload = outcome(body, "createList", expected, "createList", context);
          if (!payload) return;
          const got = normalizeList(payload.list);
          const row: ListRow = {
            rowId: got.rowId,
            name: trimWs(action.name),
            createdAt: got.createdAt,
            updatedAt: got.createdAt,
          };
          expectEqual(got, viewList(user, row), "createList: the created list", context);
          user.lists.set(row.rowId, row);
        },
      };
    }
    case "updateList": {
      const rowId = resolve(model, action.actor, action.target, "lists");
      const before = user.lists.get(rowId);
      const label = `updateList/${kindOf(model, action.actor, rowId, "lists")}`;
      const named = expectListName(action.name);
      const expected: Expected =
        before || (!named.ok && named.code === "BAD_USER_INPUT") ? named : { ok: false, code: "NOT_FOUND" };
      return {
        ...base,
        mutation: true,
        query: Q.updateList,
        variables: { rowId, name: action.name },
        verify(body) {
          const payload = outcome(body, "updateList", expected, label, { ...context, rowId });
          if (!payload || !before) return;
          const got = normalizeList(payload.list);
          if (got.updatedAt < before.updatedAt) fail("updatedAt went backwards", { before, got });
          const row: ListRow = { ...before, name: trimWs(action.name), updatedAt: got.updatedAt };
          expectEqual(got, viewList(user, row), `${label}: the updated list`, context);
          user.lists.set(rowId, row);
        },
      };
    }
    case "deleteList": {
      const rowId = resolve(model, action.actor, action.target, "lists");
      const before = user.lists.get(rowId);
      const label = `deleteList/${kindOf(model, action.actor, rowId, "lists")}`;
      return {
        ...base,
        mutation: true,
        query: Q.deleteList,
        variables: { rowId },
        verify(body) {
          const expected: Expected = before ? { ok: true } : { ok: false, code: "NOT_FOUND" };
          const payload = outcome(body, "deleteList", expected, label, { ...context, rowId });
          if (!payload || !before) return;
          expectEqual(normalizeList(payload.list), viewList(user, before), `${label}: the deleted list`, context);
          user.lists.delete(rowId);
          model.deletedLists.push(rowId);
          // Its tasks stay, without a list; the database's update moves their updatedAt.
          for (const task of user.tasks.values()) {
            if (task.listId === rowId) Object.assign(task, { listId: null, updatedAtKnown: false });
          }
        },
      };
    }
    case "snapshot": {
      const task = resolve(model, action.actor, action.task, "tasks");
      const list = resolve(model, action.actor, action.list, "lists");
      const label = `snapshot/task:${kindOf(model, action.actor, task, "tasks")}`;
      return {
        ...base,
        reads: 6,
        query: Q.snapshot,
        variables: { task, list, taskNode: nodeId("Task", task), listNode: nodeId("List", list) },
        verify(body) {
          count(label);
          checkSnapshot(user, body, { task, list });
        },
      };
    }
    case "readTask": {
      const ids = action.targets.map((target) => resolve(model, action.actor, target, "tasks"));
      const labels = ids.map((id) => `readTask/${kindOf(model, action.actor, id, "tasks")}`);
      return {
        ...base,
        reads: ids.length,
        query: Q.readTask,
        variables: Object.fromEntries(ids.map((id, i) => [READ_TASK_IDS[i]!, id])),
        verify(body) {
          labels.forEach(count);
          if (body.errors) fail("readTask: unexpected error", { ...context, ids, response: body });
          for (const [i, rowId] of ids.entries()) {
            const node = body.data?.[READ_TASK_IDS[i]!];
            const own = user.tasks.get(rowId);
            if (!own) {
              if (node !== null)
                fail("readTask: a row that is not the user's was returned", { ...context, rowId, node });
              continue;
            }
            const got = normalizeTask(node);
            adoptUpdatedAt(own, got.updatedAt);
            expectEqual(got, viewTask(user, own), "readTask: the task", context);
            const listName = own.listId === null ? null : user.lists.get(own.listId)!.name;
            expectEqual(node.list?.name ?? null, listName, "readTask: task.list", context);
          }
        },
      };
    }
    case "filter": {
      const filter = filterInput(model, action.actor, action.filter);
      const order = ORDERS[action.order]!;
      return {
        ...base,
        reads: 2,
        query: Q.filter,
        variables: { filter, orderBy: order.orderBy },
        verify(body) {
          count("filter");
          if (body.errors) fail("filter: unexpected error", { ...context, filter, response: body });
          const hits = sortedTasks(user).filter((t) => matches(filter, t) === true);
          const expectedOrder = [...hits].sort((a, b) => order.compare(a, b) || byRowId(a, b)).map((t) => t.rowId);
          const data = body.data!;
          expectEqual(
            { totalCount: data.tasks.totalCount, nodes: data.tasks.nodes.map((n: { rowId: string }) => n.rowId) },
            { totalCount: hits.length, nodes: expectedOrder },
            "filter: tasks",
            { ...context, filter },
          );
          expectEqual(
            data.lists.nodes.map((l: Record<string, any>) => ({
              rowId: l.rowId,
              totalCount: l.tasks.totalCount,
              nodes: l.tasks.nodes.map((n: { rowId: string }) => n.rowId),
            })),
            sortedLists(user).map((l) => {
              const inList = hits.filter((t) => t.listId === l.rowId).map((t) => t.rowId);
              return { rowId: l.rowId, totalCount: inList.length, nodes: inList };
            }),
            "filter: lists { tasks }",
            { ...context, filter },
          );
        },
      };
    }
    case "aggregates": {
      const filter = filterInput(model, action.actor, action.filter);
      return {
        ...base,
        reads: 3,
        query: Q.aggregates,
        variables: { filter },
        verify(body) {
          count("aggregates");
          if (body.errors) fail("aggregates: unexpected error", { ...context, filter, response: body });
          const data = body.data!;
          const all = sortedTasks(user);
          const hits = all.filter((t) => matches(filter, t) === true);
          const summary = (connection: Record<string, any>) => ({
            totalCount: connection.totalCount,
            distinct: Number(connection.aggregates.distinctCount.rowId),
            ...actualGroups(connection),
          });
          const expected = (tasks: TaskRow[]) => ({
            totalCount: tasks.length,
            distinct: tasks.length,
            ...expectedGroups(tasks),
          });
          expectEqual(summary(data.all), expected(all), "aggregates: all tasks", context);
          expectEqual(summary(data.filtered), expected(hits), "aggregates: filtered tasks", { ...context, filter });
          expectEqual(
            {
              totalCount: data.lists.totalCount,
              nodes: data.lists.nodes.map((l: Record<string, any>) => ({
                rowId: l.rowId,
                totalCount: l.tasks.totalCount,
                ...actualGroups(l.tasks),
              })),
            },
            {
              totalCount: user.lists.size,
              nodes: sortedLists(user).map((l) => {
                const inList = all.filter((t) => t.listId === l.rowId);
                return { rowId: l.rowId, totalCount: inList.length, ...expectedGroups(inList) };
              }),
            },
            "aggregates: per list",
            context,
          );
        },
      };
    }
  }
}

/** Everything the user can see, compared with the model: tasks, lists and their tasks, and probes by id. */
function checkSnapshot(user: UserState, body: GraphQLResponse["body"], probes: { task: string; list: string }) {
  if (body.errors) fail("snapshot: unexpected error", { sub: user.sub, response: body });
  const data = body.data!;
  if (data.currentUserId !== user.sub) fail("snapshot: currentUserId", { sub: user.sub, data });
  for (const node of data.tasks.nodes) adoptUpdatedAt(user.tasks.get(node.rowId), micros(node.updatedAt));
  const tasks = sortedTasks(user);
  expectEqual(
    { totalCount: data.tasks.totalCount, nodes: data.tasks.nodes.map(normalizeTask) },
    { totalCount: tasks.length, nodes: tasks.map((t) => viewTask(user, t)) },
    "snapshot: tasks",
    { sub: user.sub },
  );
  expectEqual(
    data.tasks.nodes.map((n: Record<string, any>) => n.list?.rowId ?? null),
    tasks.map((t) => t.listId),
    "snapshot: task.list",
    { sub: user.sub },
  );
  const lists = sortedLists(user);
  expectEqual(
    {
      totalCount: data.lists.totalCount,
      nodes: data.lists.nodes.map((l: Record<string, any>) => ({
        ...normalizeList(l),
        tasks: { totalCount: l.tasks.totalCount, nodes: l.tasks.nodes.map((n: { rowId: string }) => n.rowId) },
      })),
    },
    {
      totalCount: lists.length,
      nodes: lists.map((l) => {
        const inList = tasks.filter((t) => t.listId === l.rowId).map((t) => t.rowId);
        return { ...viewList(user, l), tasks: { totalCount: inList.length, nodes: inList } };
      }),
    },
    "snapshot: lists { tasks }",
    { sub: user.sub },
  );
  const ownTask = user.tasks.has(probes.task);
  const ownList = user.lists.has(probes.list);
  expectEqual(
    { task: data.task, list: data.list, taskNode: data.taskNode, listNode: data.listNode },
    {
      task: ownTask ? { rowId: probes.task, userId: user.sub } : null,
      list: ownList ? { rowId: probes.list, userId: user.sub } : null,
      taskNode: ownTask ? { id: nodeId("Task", probes.task) } : null,
      listNode: ownList ? { id: nodeId("List", probes.list) } : null,
    },
    "snapshot: lookups by id",
    { sub: user.sub, probes },
  );
}

/** The source of truth, as the superuser sees it (bypassing RLS), for every user of the run. */
async function checkDatabase(model: Model, db: Client) {
  const subs = model.users.map((u) => u.sub);
  const micro = (column: string) => `(extract(epoch from ${column}) * 1000000)::bigint::text as ${column}`;
  const [tasks, lists] = await Promise.all([
    db.query(
      `select id::text as "rowId", user_id, list_id::text, title, description, completed, ${micro("completed_at")},
         upper(priority::text) as priority, (extract(epoch from due_at) * 1000)::float8 as due_at, tags::text[] as tags,
         ${micro("created_at")}, ${micro("updated_at")}
       from app_public.tasks where user_id = any($1)`,
      [subs],
    ),
    db.query(
      `select id::text as "rowId", user_id, name, ${micro("created_at")}, ${micro("updated_at")}
       from app_public.lists where user_id = any($1)`,
      [subs],
    ),
  ]);
  const owner = new Map(model.users.map((u) => [u.sub, u]));
  for (const row of tasks.rows) adoptUpdatedAt(owner.get(row.user_id)?.tasks.get(row.rowId), BigInt(row.updated_at));
  const big = (v: string | null) => (v === null ? null : BigInt(v));
  expectEqual(
    tasks.rows
      .map((r) => ({
        rowId: r.rowId,
        userId: r.user_id,
        title: r.title,
        description: r.description,
        completed: r.completed,
        completedAt: big(r.completed_at),
        priority: r.priority,
        dueAt: r.due_at,
        tags: r.tags,
        listId: r.list_id,
        createdAt: BigInt(r.created_at),
        updatedAt: BigInt(r.updated_at),
      }))
      .sort(byRowId),
    model.users
      .flatMap((u) => [...u.tasks.values()].map((t) => viewTask(u, t)))
      .map(({ id: _id, ...t }) => t)
      .sort(byRowId),
    "database: tasks of the run's users",
  );
  expectEqual(
    lists.rows
      .map((r) => ({
        rowId: r.rowId,
        userId: r.user_id,
        name: r.name,
        createdAt: BigInt(r.created_at),
        updatedAt: BigInt(r.updated_at),
      }))
      .sort(byRowId),
    model.users
      .flatMap((u) => [...u.lists.values()].map((l) => viewList(u, l)))
      .map(({ id: _id, ...l }) => l)
      .sort(byRowId),
    "database: lists of the run's users",
  );
}

async function send(api: TestApi, model: Model, prepared: Prepared) {
  const { status, body } = await api.graphql(prepared.query, prepared.variables, {
    token: model.users[prepared.actor]!.token,
  });
  if (status !== 200) fail(`HTTP ${status}`, { prepared, body });
  return body;
}

function tally(prepared: Prepared) {
  stats.requests++;
  if (prepared.mutation) stats.mutations++;
  else stats.reads += prepared.reads;
  stats.operations = stats.mutations + stats.reads;
}

/** One operation, then (for a mutation) the whole database against the model. */
class Step implements fc.AsyncCommand<Model, Real> {
  constructor(readonly action: Action) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const prepared = prepare(model, this.action);
    const body = await send(real.api, model, prepared);
    tally(prepared);
    prepared.verify(body);
    if (prepared.mutation) await checkDatabase(model, real.db);
  }
  toString = () => json(this.action).replace(/\s+/g, " ");
}

/**
 * Several users at once, one operation each, sent concurrently: their requests
 * share the API's connection pool, so an identity left on a connection or a row
 * seen through another request's transaction would show up here. Each user's
 * outcome depends only on their own rows, so it is the same in any order.
 */
class Burst implements fc.AsyncCommand<Model, Real> {
  constructor(readonly actions: Action[]) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const prepared = this.actions.map((action) => prepare(model, action));
    const bodies = await Promise.all(prepared.map((p) => send(real.api, model, p)));
    for (const [i, p] of prepared.entries()) {
      tally(p);
      p.verify(bodies[i]!);
    }
    if (prepared.some((p) => p.mutation)) await checkDatabase(model, real.db);
  }
  toString = () => `Burst ${json(this.actions).replace(/\s+/g, " ")}`;
}

const commandsArb = fc.commands(
  [
    weighted<fc.AsyncCommand<Model, Real>>(
      [3, actionArb.map((action) => new Step(action))],
      [
        2,
        fc
          .uniqueArray(actionArb, { minLength: 2, maxLength: USERS, selector: (a) => a.actor })
          .map((actions) => new Burst(actions)),
      ],
    ),
  ],
  { maxCommands: MAX_COMMANDS, size: "max" },
);

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

const secret = testSecret();
let api: TestApi;
let db: Client;

beforeAll(async () => {
  api = await startApi({ jwt: jwtConfig({ kind: "secret", secret }), poolSize: USERS });
  db = new Client({ connectionString: testDb.superuserUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await api?.close();
});

async function freshModel(): Promise<Model> {
  const users = await Promise.all(
    Array.from({ length: USERS }, async (_, i) => {
      const sub = uniqueSub(`fuzz${i}`);
      return { sub, token: await sign({ sub }, hmacKey(secret)), tasks: new Map(), lists: new Map() };
    }),
  );
  return { users, deletedTasks: [], deletedLists: [] };
}

it(`keeps every user's rows to themselves through ${TARGET_OPERATIONS} random operations`, async () => {
  const started = performance.now();
  const budgetMs = Math.max(300_000, TARGET_OPERATIONS * 30) - 30_000;
  const shrinkMs = Number(process.env.FUZZ_SHRINK_SECONDS || 60) * 1000;
  let failedAt: number | undefined;
  const property = fc.asyncProperty(commandsArb, async (commands) => {
    // Each shrink replays a whole run against the API: after the budget, skip the rest and report the smallest so far.
    fc.pre(failedAt === undefined || performance.now() - failedAt < shrinkMs);
    try {
      let model: Model | undefined;
      await fc.asyncModelRun(async () => {
        model = await freshModel();
        return { model, real: { api, db } };
      }, commands);
      // The end of the run: every user's whole view through the API, and the database.
      for (const [i, user] of model!.users.entries()) {
        const prepared = prepare(model!, {
          actor: i,
          kind: "snapshot",
          task: { who: "foreign", n: i, uuid: "00000000-0000-4000-8000-000000000000" },
          list: { who: "foreign", n: i, uuid: "00000000-0000-4000-8000-000000000000" },
        });
        checkSnapshot(user, await send(api, model!, prepared), prepared.variables as { task: string; list: string });
      }
      await checkDatabase(model!, db);
      stats.runs++;
    } catch (error) {
      failedAt ??= performance.now();
      throw error;
    }
  });

  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  const path = process.env.FUZZ_PATH;
  // fc.commands makes runs of varying length: keep running until the target is reached.
  const opsPerRun = () => (stats.runs > 0 ? stats.operations / stats.runs : 2 * MAX_COMMANDS);
  for (let round = 0; stats.operations < TARGET_OPERATIONS; round++) {
    const timeLeft = budgetMs - (performance.now() - started);
    if (timeLeft <= 0) break;
    await fc.assert(property, {
      numRuns: path ? 1 : Math.ceil((TARGET_OPERATIONS - stats.operations) / opsPerRun()),
      ...(round === 0 && seed !== undefined ? { seed, ...(path ? { path } : {}) } : {}),
      interruptAfterTimeLimit: timeLeft,
    });
    if (path) break;
  }
  const seconds = (performance.now() - started) / 1000;

  const outcomes = Object.entries(stats.outcomes)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, n]) => `    ${key}: ${n}`)
    .join("\n");
  process.stdout.write(
    `isolation fuzz: ${stats.operations} operations (${stats.mutations} mutations, ${stats.reads} reads) ` +
      `in ${stats.requests} HTTP requests, ${stats.runs} runs of ${USERS} users, ${seconds.toFixed(1)} s\n${outcomes}\n`,
  );

  if (!path) expect(stats.operations).toBeGreaterThanOrEqual(TARGET_OPERATIONS);
  // The fuzz really went through the doors it is meant to try (a default-sized run always does).
  const tried = [
    "createTask/list:own: ok",
    "createTask/list:foreign: VALIDATION_FAILED(listId)",
    "createTask/list:deleted: VALIDATION_FAILED(listId)",
    "createTask/list:random: VALIDATION_FAILED(listId)",
    "createTask/list:none: VALIDATION_FAILED(title)",
    "createTask/list:none: VALIDATION_FAILED(tags)",
    "updateTask/own: ok",
    "updateTask/own: VALIDATION_FAILED(listId)",
    "updateTask/foreign: NOT_FOUND",
    "updateTask/deleted: NOT_FOUND",
    "updateTask/random: NOT_FOUND",
    "deleteTask/own: ok",
    "deleteTask/foreign: NOT_FOUND",
    "updateList/own: ok",
    "updateList/foreign: NOT_FOUND",
    "deleteList/own: ok",
    "deleteList/foreign: NOT_FOUND",
    "readTask/own",
    "readTask/foreign",
    "snapshot/task:foreign",
  ];
  if (!path && TARGET_OPERATIONS >= 10_000) expect(tried.filter((key) => !stats.outcomes[key])).toEqual([]);
});
