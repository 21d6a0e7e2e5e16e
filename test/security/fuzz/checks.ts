/**
 * The invariants of the isolation fuzz: each operation as a GraphQL request whose
 * response must be the one the model predicts (then applied to the model), every
 * user's whole view, and the database itself as the superuser sees it. A mismatch
 * throws, and fast-check shrinks the run to a short sequence of operations.
 */
import { createHash, randomUUID } from "node:crypto";
import type fc from "fast-check";
import type { Client } from "pg";
import type { GraphQLResponse, TestApi } from "../../support/api";
import {
  asConflict,
  byRowId,
  expectedGroups,
  expectInvisibleTaskUpdate,
  expectListName,
  expectTaskWrite,
  filterInput,
  kindOf,
  matches,
  nodeId,
  normalizeTags,
  ORDERS,
  READ_TASKS,
  resolve,
  sortedLists,
  sortedTasks,
  trimWs,
  versionOf,
  versionToSend,
  viewList,
  viewTask,
  type Action,
  type Expected,
  type ListRow,
  type Model,
  type TaskRow,
  type UserState,
  type VersionChoice,
} from "./model";

/** What the commands act on: the API under test, and the superuser's connection to check the database. */
export interface Real {
  api: TestApi;
  db: Client;
}

const READ_TASK_IDS = Array.from({ length: READ_TASKS }, (_, i) => `t${i}`);

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
// GraphQL documents
// ---------------------------------------------------------------------------

const TASK = `id rowId userId title description completed completedAt priority dueAt tags listId createdAt updatedAt version`;
const LIST = `id rowId userId name createdAt updatedAt version`;
const GROUPS = `
  byPriority: groupedAggregates(groupBy: PRIORITY) { keys distinctCount { rowId } }
  byCompleted: groupedAggregates(groupBy: COMPLETED) { keys distinctCount { rowId } }
  byList: groupedAggregates(groupBy: LIST_ID) { keys distinctCount { rowId } }`;

const Q = {
  createTask: `mutation ($task: TaskInput!) { createTask(input: { task: $task }) { task { ${TASK} list { rowId } } } }`,
  updateTask: `mutation ($rowId: UUID!, $patch: TaskPatch!, $expectedVersion: Int) {
    updateTask(input: { rowId: $rowId, patch: $patch, expectedVersion: $expectedVersion }) { task { ${TASK} list { rowId } } }
  }`,
  deleteTask: `mutation ($rowId: UUID!, $expectedVersion: Int) {
    deleteTask(input: { rowId: $rowId, expectedVersion: $expectedVersion }) { task { ${TASK} } }
  }`,
  createList: `mutation ($name: String!) { createList(input: { list: { name: $name } }) { list { ${LIST} } } }`,
  updateList: `mutation ($rowId: UUID!, $name: String!, $expectedVersion: Int) {
    updateList(input: { rowId: $rowId, patch: { name: $name }, expectedVersion: $expectedVersion }) { list { ${LIST} } }
  }`,
  deleteList: `mutation ($rowId: UUID!, $expectedVersion: Int) {
    deleteList(input: { rowId: $rowId, expectedVersion: $expectedVersion }) { list { ${LIST} } }
  }`,
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
  version: node.version,
});
const normalizeList = (node: Record<string, any>) => ({
  id: node.id,
  rowId: node.rowId,
  userId: node.userId,
  name: node.name,
  createdAt: micros(node.createdAt),
  updatedAt: micros(node.updatedAt),
  version: node.version,
});

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
const actualGroups = (connection: Record<string, any>) => ({
  byPriority: groups(connection.byPriority),
  byCompleted: groups(connection.byCompleted),
  byList: groups(connection.byList),
});

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
export const stats: Stats = { operations: 0, mutations: 0, reads: 0, requests: 0, runs: 0, outcomes: {} };
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
      (error!.message === `no ${/Task/.test(field) ? "task" : "list"} with this id was found` &&
        error!.extensions?.currentVersion === undefined)) &&
    // Only the row's owner learns its version.
    (expected.code !== "CONFLICT" || error!.extensions?.currentVersion === expected.currentVersion) &&
    body.data?.[field] == null;
  if (!fine) fail(`${label}: expected ${expected.code}`, { ...context, expected, response: body });
  return undefined;
}

/** The expectedVersion a write sends, and the label suffix its tally gets (`@current`, `@stale`). */
function versioned(model: Model, choice: VersionChoice, rowId: string, table: "tasks" | "lists") {
  const expectedVersion = versionToSend(choice, versionOf(model, rowId, table));
  return { expectedVersion, suffix: choice.send === "none" ? "" : `@${choice.send}` };
}

/** The version sent differs from the one the actor's own row is at. */
const stale = (expectedVersion: number | undefined, row: { version: number } | undefined) =>
  row !== undefined && expectedVersion !== undefined && expectedVersion !== row.version;

export function prepare(model: Model, action: Action): Prepared {
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
            version: 1,
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
      const { expectedVersion, suffix } = versioned(model, action.version, rowId, "tasks");
      const label = `updateTask/${kindOf(model, action.actor, rowId, "tasks")}${suffix}`;
      const empty = Object.keys(patch).length === 0 && listId === undefined;
      const expected: Expected = empty
        ? { ok: false, code: "BAD_USER_INPUT" }
        : stale(expectedVersion, before)
          ? asConflict(expectInvisibleTaskUpdate(patch), before!.version)
          : before
            ? expectTaskWrite(user, patch, listId)
            : expectInvisibleTaskUpdate(patch);
      return {
        ...base,
        mutation: true,
        query: Q.updateTask,
        variables: { rowId, patch: { ...patch, ...(listId !== undefined ? { listId } : {}) }, expectedVersion },
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
            version: before.version + 1,
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
      const { expectedVersion, suffix } = versioned(model, action.version, rowId, "tasks");
      const label = `deleteTask/${kindOf(model, action.actor, rowId, "tasks")}${suffix}`;
      return {
        ...base,
        mutation: true,
        query: Q.deleteTask,
        variables: { rowId, expectedVersion },
        verify(body) {
          const expected: Expected = stale(expectedVersion, before)
            ? { ok: false, code: "CONFLICT", currentVersion: before!.version }
            : before
              ? { ok: true }
              : { ok: false, code: "NOT_FOUND" };
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
            version: 1,
          };
          expectEqual(got, viewList(user, row), "createList: the created list", context);
          user.lists.set(row.rowId, row);
        },
      };
    }
    case "updateList": {
      const rowId = resolve(model, action.actor, action.target, "lists");
      const before = user.lists.get(rowId);
      const { expectedVersion, suffix } = versioned(model, action.version, rowId, "lists");
      const label = `updateList/${kindOf(model, action.actor, rowId, "lists")}${suffix}`;
      const named = expectListName(action.name);
      // A NUL is refused before any row is looked for; a name's length is a rule of the row written.
      const invisible: Expected =
        !named.ok && named.code === "BAD_USER_INPUT" ? named : { ok: false, code: "NOT_FOUND" };
      const expected: Expected = stale(expectedVersion, before)
        ? asConflict(invisible, before!.version)
        : before
          ? named
          : invisible;
      return {
        ...base,
        mutation: true,
        query: Q.updateList,
        variables: { rowId, name: action.name, expectedVersion },
        verify(body) {
          const payload = outcome(body, "updateList", expected, label, { ...context, rowId });
          if (!payload || !before) return;
          const got = normalizeList(payload.list);
          if (got.updatedAt < before.updatedAt) fail("updatedAt went backwards", { before, got });
          const row: ListRow = {
            ...before,
            name: trimWs(action.name),
            updatedAt: got.updatedAt,
            version: before.version + 1,
          };
          expectEqual(got, viewList(user, row), `${label}: the updated list`, context);
          user.lists.set(rowId, row);
        },
      };
    }
    case "deleteList": {
      const rowId = resolve(model, action.actor, action.target, "lists");
      const before = user.lists.get(rowId);
      const { expectedVersion, suffix } = versioned(model, action.version, rowId, "lists");
      const label = `deleteList/${kindOf(model, action.actor, rowId, "lists")}${suffix}`;
      return {
        ...base,
        mutation: true,
        query: Q.deleteList,
        variables: { rowId, expectedVersion },
        verify(body) {
          const expected: Expected = stale(expectedVersion, before)
            ? { ok: false, code: "CONFLICT", currentVersion: before!.version }
            : before
              ? { ok: true }
              : { ok: false, code: "NOT_FOUND" };
          const payload = outcome(body, "deleteList", expected, label, { ...context, rowId });
          if (!payload || !before) return;
          expectEqual(normalizeList(payload.list), viewList(user, before), `${label}: the deleted list`, context);
          user.lists.delete(rowId);
          model.deletedLists.push(rowId);
          // Its tasks stay, without a list; the database's update moves their updatedAt and their version.
          for (const task of user.tasks.values()) {
            if (task.listId === rowId) {
              Object.assign(task, { listId: null, updatedAtKnown: false, version: task.version + 1 });
            }
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
export function checkSnapshot(user: UserState, body: GraphQLResponse["body"], probes: { task: string; list: string }) {
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
export async function checkDatabase(model: Model, db: Client) {
  const subs = model.users.map((u) => u.sub);
  const micro = (column: string) => `(extract(epoch from ${column}) * 1000000)::bigint::text as ${column}`;
  const [tasks, lists] = await Promise.all([
    db.query(
      `select id::text as "rowId", user_id, list_id::text, title, description, completed, ${micro("completed_at")},
         upper(priority::text) as priority, (extract(epoch from due_at) * 1000)::float8 as due_at, tags::text[] as tags,
         ${micro("created_at")}, ${micro("updated_at")}, version
       from app_public.tasks where user_id = any($1)`,
      [subs],
    ),
    db.query(
      `select id::text as "rowId", user_id, name, ${micro("created_at")}, ${micro("updated_at")}, version
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
        version: r.version,
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
        version: r.version,
      }))
      .sort(byRowId),
    model.users
      .flatMap((u) => [...u.lists.values()].map((l) => viewList(u, l)))
      .map(({ id: _id, ...l }) => l)
      .sort(byRowId),
    "database: lists of the run's users",
  );
}

/**
 * A `retried` mutation carries a fresh Idempotency-Key and is sent a second time with it,
 * as a client whose answer was lost would: the retry must be the first answer, marked as a
 * replay, and (checked by the caller against the database) write nothing. The others go
 * without a key, the path most clients take.
 */
export async function send(api: TestApi, model: Model, prepared: Prepared, retried = false) {
  const token = model.users[prepared.actor]!.token;
  const headers: Record<string, string> = prepared.mutation && retried ? { "idempotency-key": randomUUID() } : {};
  const { status, body } = await api.graphql(prepared.query, prepared.variables, { token, headers });
  if (status !== 200) fail(`HTTP ${status}`, { prepared, body });
  if (prepared.mutation && retried) {
    const retry = await api.graphql(prepared.query, prepared.variables, { token, headers });
    stats.requests++;
    if (retry.status !== status || retry.headers.get("idempotent-replayed") !== "true") {
      fail(`retry not replayed: HTTP ${retry.status}`, { prepared, body: retry.body });
    }
    expectEqual(retry.body, body, "the replayed response");
    stats.outcomes["idempotent retry: replayed"] = (stats.outcomes["idempotent retry: replayed"] ?? 0) + 1;
  }
  return body;
}

/** Whether an action's mutation is also retried: a third of them, chosen by the action itself so a replayed run retries the same ones. */
const retried = (action: Action) => createHash("sha256").update(json(action)).digest()[0]! % 3 === 0;

function tally(prepared: Prepared) {
  stats.requests++;
  if (prepared.mutation) stats.mutations++;
  else stats.reads += prepared.reads;
  stats.operations = stats.mutations + stats.reads;
}

/** One operation, then (for a mutation) the whole database against the model. */
export class Step implements fc.AsyncCommand<Model, Real> {
  constructor(readonly action: Action) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const prepared = prepare(model, this.action);
    const body = await send(real.api, model, prepared, retried(this.action));
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
export class Burst implements fc.AsyncCommand<Model, Real> {
  constructor(readonly actions: Action[]) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const prepared = this.actions.map((action) => prepare(model, action));
    const bodies = await Promise.all(prepared.map((p, i) => send(real.api, model, p, retried(this.actions[i]!))));
    for (const [i, p] of prepared.entries()) {
      tally(p);
      p.verify(bodies[i]!);
    }
    if (prepared.some((p) => p.mutation)) await checkDatabase(model, real.db);
  }
  toString = () => `Burst ${json(this.actions).replace(/\s+/g, " ")}`;
}
