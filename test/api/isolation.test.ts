/*
 * Bob, with data of his own, looks for alice's through every door the API has:
 * tasks, task, node(id), lists { tasks }, aggregates and mutation payloads.
 * Each "sees nothing" is checked against the database, where alice's rows are.
 */
import { Client } from "pg";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { newUser } from "../support/tokens";

let api: TestApi;
let db: Client;
const alice = { sub: "", token: "", taskRowId: "", taskId: "", listRowId: "", listId: "" };
const bob = { sub: "", token: "", taskRowId: "", listRowId: "" };

async function as(user: { token: string }, query: string, variables: Record<string, unknown> = {}) {
  return (await api.graphql(query, variables, { token: user.token })).body;
}

/** Alice's rows as the superuser sees them: the proof that there is something to hide. */
async function aliceRowsInDatabase() {
  const tasks = await db.query("select title, completed, list_id from app_public.tasks where user_id = $1", [
    alice.sub,
  ]);
  const lists = await db.query("select name from app_public.lists where user_id = $1", [alice.sub]);
  return { tasks: tasks.rows, lists: lists.rows };
}

beforeAll(async () => {
  api = await startApi();
  db = new Client({ connectionString: testDb.superuserUrl });
  await db.connect();
  Object.assign(alice, await newUser("alice"));
  Object.assign(bob, await newUser("bob"));

  const a = await as(
    alice,
    `mutation {
      createList(input: { list: { name: "Alice's secrets" } }) { list { id rowId } }
    }`,
  );
  alice.listRowId = a.data!.createList.list.rowId;
  alice.listId = a.data!.createList.list.id;
  const t = await as(
    alice,
    `mutation ($listId: UUID!) { createTask(input: { task: { title: "Alice's task", priority: URGENT, listId: $listId } }) { task { id rowId } } }`,
    { listId: alice.listRowId },
  );
  alice.taskRowId = t.data!.createTask.task.rowId;
  alice.taskId = t.data!.createTask.task.id;

  const b = await as(bob, `mutation { createList(input: { list: { name: "Bob's" } }) { list { rowId } } }`);
  bob.listRowId = b.data!.createList.list.rowId;
  const bt = await as(bob, `mutation { createTask(input: { task: { title: "Bob's task" } }) { task { rowId } } }`);
  bob.taskRowId = bt.data!.createTask.task.rowId;
});

afterAll(async () => {
  await db.end();
  await api.close();
});

it("alice's rows are really there", async () => {
  expect(await aliceRowsInDatabase()).toEqual({
    tasks: [{ title: "Alice's task", completed: false, list_id: alice.listRowId }],
    lists: [{ name: "Alice's secrets" }],
  });
});

it("bob's connections, lookups and node(id) show only his own rows", async () => {
  const body = await as(
    bob,
    `query ($taskRowId: UUID!, $listRowId: UUID!, $taskId: ID!, $listId: ID!) {
      tasks { totalCount nodes { title } }
      lists { totalCount nodes { name tasks { totalCount nodes { title } } } }
      task(rowId: $taskRowId) { title }
      list(rowId: $listRowId) { name }
      taskNode: node(id: $taskId) { id }
      listNode: node(id: $listId) { id }
    }`,
    { taskRowId: alice.taskRowId, listRowId: alice.listRowId, taskId: alice.taskId, listId: alice.listId },
  );
  expect(body).toEqual({
    data: {
      tasks: { totalCount: 1, nodes: [{ title: "Bob's task" }] },
      lists: { totalCount: 1, nodes: [{ name: "Bob's", tasks: { totalCount: 0, nodes: [] } }] },
      task: null,
      list: null,
      taskNode: null,
      listNode: null,
    },
  });
});

it("bob's aggregates count only his rows", async () => {
  const body = await as(
    bob,
    `{
      tasks {
        aggregates { distinctCount { rowId } }
        groupedAggregates(groupBy: PRIORITY) { keys distinctCount { rowId } }
      }
      urgent: tasks(filter: { priority: { equalTo: URGENT } }) { totalCount }
    }`,
  );
  expect(body.data).toEqual({
    tasks: {
      aggregates: { distinctCount: { rowId: "1" } },
      groupedAggregates: [{ keys: ["none"], distinctCount: { rowId: "1" } }],
    },
    urgent: { totalCount: 0 },
  });
});

it("bob cannot update or delete alice's rows: NOT_FOUND, exactly as for an id that does not exist", async () => {
  const before = await aliceRowsInDatabase();
  const attempts = [
    [
      `mutation ($id: UUID!) { updateTask(input: { rowId: $id, patch: { title: "pwned", completed: true } }) { task { title } } }`,
      alice.taskRowId,
    ],
    [`mutation ($id: UUID!) { deleteTask(input: { rowId: $id }) { task { title } } }`, alice.taskRowId],
    [
      `mutation ($id: UUID!) { updateList(input: { rowId: $id, patch: { name: "pwned" } }) { list { name } } }`,
      alice.listRowId,
    ],
    [`mutation ($id: UUID!) { deleteList(input: { rowId: $id }) { list { name } } }`, alice.listRowId],
  ] as const;
  for (const [mutation, id] of attempts) {
    const foreign = await as(bob, mutation, { id });
    const missing = await as(bob, mutation, { id: "00000000-0000-4000-8000-000000000000" });
    expect(foreign.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: "NOT_FOUND" }) }),
    ]);
    expect(foreign.data).toEqual(missing.data);
    expect(strip(foreign.errors)).toEqual(strip(missing.errors));
  }
  expect(await aliceRowsInDatabase()).toEqual(before);
});

it("bob cannot file a task into alice's list, on create or by moving his own", async () => {
  const before = await aliceRowsInDatabase();
  const create = await as(
    bob,
    `mutation ($listId: UUID!) { createTask(input: { task: { title: "Sneaky", listId: $listId } }) { task { title } } }`,
    {
      listId: alice.listRowId,
    },
  );
  const move = await as(
    bob,
    `mutation ($rowId: UUID!, $listId: UUID!) { updateTask(input: { rowId: $rowId, patch: { listId: $listId } }) { task { title } } }`,
    { rowId: bob.taskRowId, listId: alice.listRowId },
  );
  const missingList = await as(
    bob,
    `mutation ($listId: UUID!) { createTask(input: { task: { title: "Sneaky", listId: $listId } }) { task { title } } }`,
    { listId: "00000000-0000-4000-8000-000000000000" },
  );
  for (const body of [create, move]) {
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: "VALIDATION_FAILED", field: "listId" });
  }
  expect(strip(create.errors)).toEqual(strip(missingList.errors));
  expect(await aliceRowsInDatabase()).toEqual(before);
  const bobs = await db.query("select list_id from app_public.tasks where id = $1", [bob.taskRowId]);
  expect(bobs.rows).toEqual([{ list_id: null }]);
});

it("mutation payloads never carry alice's data", async () => {
  const body = await as(
    bob,
    `mutation { createTask(input: { task: { title: "Peek" } }) { task { title } query { tasks { nodes { title } } } } }`,
  );
  const titles = body.data!.createTask.query.tasks.nodes.map((n: { title: string }) => n.title).sort();
  expect(titles).toEqual(["Bob's task", "Peek"]);
});

/** Error bodies minus what legitimately differs between two requests (positions, the dev-only debug text). */
function strip(errors: Array<{ message: string; extensions?: Record<string, unknown> }> | undefined) {
  return errors?.map(({ message, extensions }) => ({ message, code: extensions?.code, field: extensions?.field }));
}
