/*
 * A user's whole day through GraphQL over HTTP with a real HS256 token: lists,
 * tasks with every field, filtering, ordering, pagination, aggregates, updates,
 * completion and deletion.
 */
import { startApi, type TestApi } from "../support/api";
import { newUser } from "../support/tokens";

let api: TestApi;
let token: string;
let sub: string;

beforeAll(async () => {
  api = await startApi();
  ({ sub, token } = await newUser("alice"));
});
afterAll(() => api.close());

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const { status, body } = await api.graphql(query, variables, { token });
  expect(body.errors).toBeUndefined();
  expect(status).toBe(200);
  return body.data!;
}

it("creates lists and tasks, reads them back filtered, ordered and paginated, and aggregates them", async () => {
  const { createList } = await gql(
    `mutation { createList(input: { list: { name: "  Home  " } }) { list { rowId name userId } } }`,
  );
  expect(createList.list).toEqual({ rowId: expect.any(String), name: "Home", userId: sub });
  const listId = createList.list.rowId;

  const soon = new Date(Date.now() + 86_400_000).toISOString();
  const past = new Date(Date.now() - 86_400_000).toISOString();
  const create = `mutation ($task: TaskInput!) {
    createTask(input: { task: $task }) {
      task { rowId title description completed completedAt priority dueAt tags listId userId createdAt updatedAt list { name } }
    }
  }`;
  const full = await gql(create, {
    task: {
      title: " Buy milk ",
      description: "Semi-skimmed",
      priority: "HIGH",
      dueAt: soon,
      tags: ["errand", " errand ", "home"],
      listId,
    },
  });
  expect(full.createTask.task).toEqual({
    rowId: expect.any(String),
    title: "Buy milk",
    description: "Semi-skimmed",
    completed: false,
    completedAt: null,
    priority: "HIGH",
    dueAt: expect.any(String),
    tags: ["errand", "home"],
    listId,
    userId: sub,
    createdAt: expect.any(String),
    updatedAt: expect.any(String),
    list: { name: "Home" },
  });
  expect(Date.parse(full.createTask.task.dueAt)).toBe(Date.parse(soon));
  await gql(create, { task: { title: "Pay rent", priority: "URGENT", dueAt: past } });
  await gql(create, { task: { title: "Read a book", completed: true } });

  // Filtering and ordering: open tasks with a due date, soonest first.
  const open = await gql(`{
    tasks(filter: { completed: { equalTo: false }, dueAt: { isNull: false } }, orderBy: DUE_AT_ASC) {
      nodes { title }
    }
  }`);
  expect(open.tasks.nodes).toEqual([{ title: "Pay rent" }, { title: "Buy milk" }]);

  const byTag = await gql(`{ tasks(filter: { tags: { contains: ["home"] } }) { nodes { title } } }`);
  expect(byTag.tasks.nodes).toEqual([{ title: "Buy milk" }]);
  const search = await gql(`{ tasks(filter: { title: { includesInsensitive: "RENT" } }) { nodes { title } } }`);
  expect(search.tasks.nodes).toEqual([{ title: "Pay rent" }]);

  // Cursor pagination over the newest-first order.
  const page1 = await gql(
    `{ tasks(first: 2, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { totalCount pageInfo { hasNextPage endCursor } nodes { title } } }`,
  );
  expect(page1.tasks.totalCount).toBe(3);
  expect(page1.tasks.nodes).toHaveLength(2);
  expect(page1.tasks.pageInfo.hasNextPage).toBe(true);
  const page2 = await gql(
    `query ($after: Cursor) { tasks(first: 2, after: $after, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { pageInfo { hasNextPage } nodes { title } } }`,
    {
      after: page1.tasks.pageInfo.endCursor,
    },
  );
  expect(page2.tasks.pageInfo.hasNextPage).toBe(false);
  const seen = [...page1.tasks.nodes, ...page2.tasks.nodes].map((n: { title: string }) => n.title).sort();
  expect(seen).toEqual(["Buy milk", "Pay rent", "Read a book"]);

  // A dashboard: counts by completion, priority and list, by day, and the overdue count. `count`
  // is count(column), the rows where it is not null; on rowId, the rows of each group.
  const dashboard = await gql(
    `query ($now: Datetime!) {
      all: tasks { totalCount aggregates { count { rowId dueAt } } }
      withDueDate: tasks(filter: { dueAt: { isNull: false } }) { totalCount }
      byCompleted: tasks { groupedAggregates(groupBy: COMPLETED) { keys count { rowId } } }
      byPriority: tasks { groupedAggregates(groupBy: PRIORITY) { keys count { rowId } distinctCount { rowId } } }
      byList: tasks { groupedAggregates(groupBy: LIST_ID) { keys count { rowId } } }
      byDay: tasks { groupedAggregates(groupBy: CREATED_AT_TRUNCATED_TO_DAY) { keys count { rowId } } }
      completedByDay: tasks(filter: { completed: { equalTo: true } }) {
        groupedAggregates(groupBy: COMPLETED_AT_TRUNCATED_TO_DAY) { keys count { rowId } }
      }
      overdue: tasks(filter: { completed: { equalTo: false }, dueAt: { lessThan: $now } }) { totalCount }
      lists { nodes { name tasks { totalCount } } }
    }`,
    { now: new Date().toISOString() },
  );
  type Group = { keys: string[]; count: { rowId: string }; distinctCount?: { rowId: string } };
  const counts = (groups: Group[], aggregate: "count" | "distinctCount" = "count") =>
    Object.fromEntries(groups.map((g) => [g.keys.join(","), Number(g[aggregate]!.rowId)]));
  expect(dashboard.all.totalCount).toBe(3);
  expect(dashboard.all.aggregates.count).toEqual({ rowId: "3", dueAt: String(dashboard.withDueDate.totalCount) });
  expect(dashboard.withDueDate.totalCount).toBeGreaterThan(0);
  expect(counts(dashboard.byPriority.groupedAggregates, "distinctCount")).toEqual(
    counts(dashboard.byPriority.groupedAggregates),
  );
  expect(counts(dashboard.byCompleted.groupedAggregates)).toEqual({ false: 2, true: 1 });
  expect(counts(dashboard.byPriority.groupedAggregates)).toEqual({ high: 1, urgent: 1, none: 1 }); // keys are the values as Postgres prints them
  expect(counts(dashboard.byList.groupedAggregates)).toEqual({ [listId]: 1, "": 2 });
  expect(Object.values(counts(dashboard.byDay.groupedAggregates))).toEqual([3]);
  expect(Object.values(counts(dashboard.completedByDay.groupedAggregates))).toEqual([1]);
  expect(dashboard.overdue.totalCount).toBe(1);
  expect(dashboard.lists.nodes).toEqual([{ name: "Home", tasks: { totalCount: 1 } }]);
});

it("updates, completes, reopens and deletes a task", async () => {
  const { createTask } = await gql(
    `mutation { createTask(input: { task: { title: "Water plants" } }) { task { rowId updatedAt } } }`,
  );
  const rowId = createTask.task.rowId;

  const updated = await gql(
    `mutation ($rowId: UUID!) { updateTask(input: { rowId: $rowId, patch: { title: "Water the plants", priority: LOW, tags: ["garden"] } }) { task { title priority tags } } }`,
    { rowId },
  );
  expect(updated.updateTask.task).toEqual({ title: "Water the plants", priority: "LOW", tags: ["garden"] });

  const completed = await gql(
    `mutation ($rowId: UUID!) { updateTask(input: { rowId: $rowId, patch: { completed: true } }) { task { completed completedAt } } }`,
    { rowId },
  );
  expect(completed.updateTask.task.completed).toBe(true);
  expect(Date.parse(completed.updateTask.task.completedAt)).not.toBeNaN();

  const reopened = await gql(
    `mutation ($rowId: UUID!) { updateTask(input: { rowId: $rowId, patch: { completed: false } }) { task { completed completedAt } } }`,
    { rowId },
  );
  expect(reopened.updateTask.task).toEqual({ completed: false, completedAt: null });

  const deleted = await gql(`mutation ($rowId: UUID!) { deleteTask(input: { rowId: $rowId }) { task { rowId } } }`, {
    rowId,
  });
  expect(deleted.deleteTask.task.rowId).toBe(rowId);
  expect((await gql(`query ($rowId: UUID!) { task(rowId: $rowId) { rowId } }`, { rowId })).task).toBeNull();
});

it("renames and deletes a list, leaving its tasks without a list", async () => {
  const { createList } = await gql(`mutation { createList(input: { list: { name: "Work" } }) { list { rowId } } }`);
  const listId = createList.list.rowId;
  const { createTask } = await gql(
    `mutation ($listId: UUID!) { createTask(input: { task: { title: "Report", listId: $listId } }) { task { rowId } } }`,
    {
      listId,
    },
  );
  const renamed = await gql(
    `mutation ($rowId: UUID!) { updateList(input: { rowId: $rowId, patch: { name: "Office" } }) { list { name } } }`,
    {
      rowId: listId,
    },
  );
  expect(renamed.updateList.list.name).toBe("Office");
  await gql(`mutation ($rowId: UUID!) { deleteList(input: { rowId: $rowId }) { list { rowId } } }`, { rowId: listId });
  const task = await gql(`query ($rowId: UUID!) { task(rowId: $rowId) { title listId list { name } } }`, {
    rowId: createTask.task.rowId,
  });
  expect(task.task).toEqual({ title: "Report", listId: null, list: null });
});

it("refetches any of its rows through node(id)", async () => {
  const { createTask } = await gql(`mutation { createTask(input: { task: { title: "Via node" } }) { task { id } } }`);
  const { node } = await gql(`query ($id: ID!) { node(id: $id) { ... on Task { title } } }`, {
    id: createTask.task.id,
  });
  expect(node).toEqual({ title: "Via node" });
});
