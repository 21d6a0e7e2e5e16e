/**
 * The reference model of the isolation fuzz: what each user of a run owns, the
 * operations the fuzz performs on it, and what each operation should do by the
 * documented rules — which id a target names, which error a write earns, which
 * rows a filter matches and in what order. It knows nothing of HTTP or SQL.
 */
import { newUser } from "../../support/tokens";

export const USERS = 4;
/** task(rowId:) lookups batched in one readTask request. */
export const READ_TASKS = 3;

export const PRIORITIES = ["NONE", "LOW", "MEDIUM", "HIGH", "URGENT"] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface TaskRow {
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
  /** 1 at creation, one more after every write — the database's own too (deleting its list). */
  version: number;
}

export interface ListRow {
  rowId: string;
  name: string;
  createdAt: bigint;
  updatedAt: bigint;
  version: number;
}

export interface UserState {
  sub: string;
  token: string;
  tasks: Map<string, TaskRow>;
  lists: Map<string, ListRow>;
}

export interface Model {
  users: UserState[];
  /** Ids of rows deleted during the run: nobody may find them again. */
  deletedTasks: string[];
  deletedLists: string[];
}

/** What the database trims from text (migration 000003): ASCII and Unicode spaces. */
const WHITESPACE =
  " \t\n\u000b\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff";
export function trimWs(value: string): string {
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
export const normalizeTags = (tags: ReadonlyArray<string | null> | null) => [
  ...new Set((tags ?? []).map((tag) => trimWs(tag!))),
];

export const nodeId = (type: "Task" | "List", rowId: string) =>
  Buffer.from(JSON.stringify([type, rowId])).toString("base64");

/** Four fresh users with real tokens and nothing yet: each run starts from its own. */
export async function freshModel(): Promise<Model> {
  const users = await Promise.all(
    Array.from({ length: USERS }, async (_, i) => ({
      ...(await newUser(`fuzz${i}`)),
      tasks: new Map<string, TaskRow>(),
      lists: new Map<string, ListRow>(),
    })),
  );
  return { users, deletedTasks: [], deletedLists: [] };
}

// ---------------------------------------------------------------------------
// Operations (arbitraries.ts generates them)
// ---------------------------------------------------------------------------

export type Who = "own" | "foreign" | "deleted" | "random";
/** A row to aim at, resolved against the model when the operation runs. */
export interface Target {
  who: Who;
  n: number;
  uuid: string;
}
export type ListChoice = { who: "none" } | Target;

/**
 * The `expectedVersion` a write sends: none, the row's version as the model knows it
 * (for another user's row: their real one), or an outdated or future one.
 */
export type VersionChoice = { send: "none" } | { send: "current" } | { send: "stale"; n: number };

interface TaskFields {
  title?: string | null;
  description?: string | null;
  priority?: Priority | null;
  completed?: boolean | null;
  dueAt?: string | null;
  tags?: Array<string | null> | null;
  list?: ListChoice;
}

export type Filter =
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

export type Action = { actor: number } & (
  | { kind: "createTask"; input: TaskFields & { title: string } }
  | { kind: "updateTask"; target: Target; patch: TaskFields; version: VersionChoice }
  | { kind: "deleteTask"; target: Target; version: VersionChoice }
  | { kind: "createList"; name: string }
  | { kind: "updateList"; target: Target; name: string; version: VersionChoice }
  | { kind: "deleteList"; target: Target; version: VersionChoice }
  | { kind: "snapshot"; task: Target; list: Target }
  | { kind: "readTask"; targets: Target[] }
  | { kind: "filter"; filter: Filter; order: number }
  | { kind: "aggregates"; filter: Filter }
);

/** Each ordering ends in a unique key, so the expected order is exact. */
export const ORDERS: Array<{ orderBy: string[]; compare: (a: TaskRow, b: TaskRow) => number }> = [
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
export function resolve(model: Model, actor: number, target: Target, table: "tasks" | "lists"): string {
  const owner = ownerOf(model, actor, target, table);
  const rows = owner === undefined ? [] : [...model.users[owner]![table].keys()];
  if (rows.length > 0) return rows[Math.floor(target.n / USERS) % rows.length]!;
  const deleted = table === "tasks" ? model.deletedTasks : model.deletedLists;
  if (target.who === "deleted" && deleted.length > 0) return deleted[target.n % deleted.length]!;
  return target.uuid;
}

/** What an id turned out to be, for the statistics: the actor's, another user's, deleted, or never existing. */
export function kindOf(model: Model, actor: number, id: string | undefined, table: "tasks" | "lists"): string {
  if (id === undefined) return "none";
  if (model.users[actor]![table].has(id)) return "own";
  if (model.users.some((u) => u[table].has(id))) return "foreign";
  return (table === "tasks" ? model.deletedTasks : model.deletedLists).includes(id) ? "deleted" : "random";
}

/** The version a row is at, whoever owns it; undefined for a deleted or never existing row. */
export function versionOf(model: Model, id: string, table: "tasks" | "lists"): number | undefined {
  for (const user of model.users) {
    const row = user[table].get(id);
    if (row) return row.version;
  }
  return undefined;
}

/** The expectedVersion to send for a row at `current` (undefined: not the model's), or undefined for none. */
export function versionToSend(choice: VersionChoice, current: number | undefined): number | undefined {
  if (choice.send === "none") return undefined;
  const known = current ?? 1;
  if (choice.send === "current") return known;
  // Any other number: an earlier version when there is one, otherwise one the row has not reached.
  return choice.n % 2 === 0 && known > 1 ? 1 + (choice.n % (known - 1)) : known + 1 + (choice.n % 3);
}

// ---------------------------------------------------------------------------
// What each operation should do
// ---------------------------------------------------------------------------

export type Expected =
  | { ok: true }
  | { ok: false; code: "NOT_FOUND" | "BAD_USER_INPUT" }
  | { ok: false; code: "VALIDATION_FAILED"; fields: string[] }
  | { ok: false; code: "CONFLICT"; currentVersion: number };

/**
 * A write to one of the actor's own rows that sent another version than the row's:
 * whatever NOT_FOUND would have been (the row is not matched), but CONFLICT with
 * the row's version. What is refused before the row is looked for stays refused.
 */
export const asConflict = (invisible: Expected, currentVersion: number): Expected =>
  !invisible.ok && invisible.code === "NOT_FOUND" ? { ok: false, code: "CONFLICT", currentVersion } : invisible;

/** The outcome of writing `fields` to a task the actor owns (or creates), by the documented rules. */
export function expectTaskWrite(user: UserState, fields: TaskFields, listId: string | null | undefined): Expected {
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
export function expectInvisibleTaskUpdate(fields: TaskFields): Expected {
  if (hasNul(fields.title) || hasNul(fields.description)) return { ok: false, code: "BAD_USER_INPUT" };
  if (fields.tags?.some((tag) => tag === null || !inRange(trimWs(tag), 50))) {
    return { ok: false, code: "VALIDATION_FAILED", fields: ["tags"] };
  }
  return { ok: false, code: "NOT_FOUND" };
}

export function expectListName(name: string): Expected {
  if (hasNul(name)) return { ok: false, code: "BAD_USER_INPUT" };
  return inRange(trimWs(name), 200) ? { ok: true } : { ok: false, code: "VALIDATION_FAILED", fields: ["name"] };
}

// ---------------------------------------------------------------------------
// What each user should see
// ---------------------------------------------------------------------------

/** The model's row in the shape of `normalizeTask`. */
export const viewTask = (user: UserState, t: TaskRow) => ({
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
  version: t.version,
});
export const viewList = (user: UserState, l: ListRow) => ({
  id: nodeId("List", l.rowId),
  rowId: l.rowId,
  userId: user.sub,
  name: l.name,
  createdAt: l.createdAt,
  updatedAt: l.updatedAt,
  version: l.version,
});

export const byRowId = <T extends { rowId: string }>(a: T, b: T) =>
  a.rowId < b.rowId ? -1 : a.rowId > b.rowId ? 1 : 0;
export const sortedTasks = (user: UserState) => [...user.tasks.values()].sort(byRowId);
export const sortedLists = (user: UserState) => [...user.lists.values()].sort(byRowId);

function countBy(tasks: TaskRow[], key: (t: TaskRow) => string) {
  const result: Record<string, number> = {};
  for (const task of tasks) result[key(task)] = (result[key(task)] ?? 0) + 1;
  return result;
}
export const expectedGroups = (tasks: TaskRow[]) => ({
  byPriority: countBy(tasks, (t) => t.priority.toLowerCase()),
  byCompleted: countBy(tasks, (t) => String(t.completed)),
  byList: countBy(tasks, (t) => t.listId ?? ""),
});

/** Filters in GraphQL form, with targets resolved. */
export function filterInput(model: Model, actor: number, filter: Filter): Record<string, unknown> {
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
export function matches(filter: Record<string, any>, t: TaskRow): boolean | null {
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
