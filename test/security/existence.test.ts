/*
 * Existence must not leak: asking about another user's row looks exactly like
 * asking about a row that was never there — same status, code and message, and no
 * timing difference visible over many interleaved requests. UUID ids keep the id
 * space from telling one tenant how busy the others are.
 */
import { randomUUID } from "node:crypto";
import { startApi, type TestApi } from "../support/api";
import { newUser } from "../support/tokens";

const ROUNDS = 150;
let api: TestApi;
let bob: string;
let aliceTask: string;
let aliceList: string;

beforeAll(async () => {
  api = await startApi({ production: true });
  const { token: alice } = await newUser("alice");
  ({ token: bob } = await newUser("bob"));
  const list = await api.graphql(
    `mutation { createList(input: { list: { name: "Private" } }) { list { rowId } } }`,
    {},
    { token: alice },
  );
  aliceList = list.body.data!.createList.list.rowId;
  const task = await api.graphql(
    `mutation { createTask(input: { task: { title: "Private" } }) { task { rowId } } }`,
    {},
    { token: alice },
  );
  aliceTask = task.body.data!.createTask.task.rowId;
});
afterAll(() => api.close());

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(query: string, variables: Record<string, unknown>) {
  const start = process.hrtime.bigint();
  const response = await api.graphql(query, variables, { token: bob });
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, status: response.status, body: response.body };
}

/** Runs the probe for a real foreign id and a random one, interleaved so drift hits both alike. */
async function compare(query: string, variablesFor: (id: string) => Record<string, unknown>, foreignId: string) {
  const foreign: number[] = [];
  const random: number[] = [];
  const bodies = new Set<string>();
  for (let round = 0; round < ROUNDS; round++) {
    // One at a time, alternating which goes first.
    const foreignFirst = round % 2 === 0;
    const first = await timed(query, variablesFor(foreignFirst ? foreignId : randomUUID()));
    const second = await timed(query, variablesFor(foreignFirst ? randomUUID() : foreignId));
    const [a, b] = foreignFirst ? [first, second] : [second, first];
    foreign.push(a.ms);
    random.push(b.ms);
    for (const answer of [a, b]) bodies.add(JSON.stringify({ status: answer.status, errors: answer.body.errors }));
  }
  return { foreign: median(foreign), random: median(random), bodies };
}

it.each([
  [
    "updating another user's task",
    `mutation ($id: UUID!) { updateTask(input: { rowId: $id, patch: { title: "x" } }) { task { rowId } } }`,
  ],
  ["deleting another user's task", `mutation ($id: UUID!) { deleteTask(input: { rowId: $id }) { task { rowId } } }`],
  // A row's version moves on every write: 1 is the foreign task's real version, so only existence could differ.
  [
    "updating another user's task with expectedVersion",
    `mutation ($id: UUID!) { updateTask(input: { rowId: $id, expectedVersion: 1, patch: { title: "x" } }) { task { rowId } } }`,
  ],
  [
    "deleting another user's task with expectedVersion",
    `mutation ($id: UUID!) { deleteTask(input: { rowId: $id, expectedVersion: 1 }) { task { rowId } } }`,
  ],
  ["reading another user's task", `query ($id: UUID!) { task(rowId: $id) { title } }`],
])("%s is indistinguishable from a random id", async (_name, query) => {
  const { foreign, random, bodies } = await compare(query, (id) => ({ id }), aliceTask);
  expect(bodies.size).toBe(1); // one answer, whichever id was asked about
  expect(Math.abs(foreign - random)).toBeLessThan(Math.max(1, 0.3 * random));
});

it("filing a task in another user's list is indistinguishable from a list that does not exist", async () => {
  const query = `mutation ($id: UUID!) { createTask(input: { task: { title: "probe", listId: $id } }) { task { rowId } } }`;
  const { foreign, random, bodies } = await compare(query, (id) => ({ id }), aliceList);
  expect([...bodies].map((b) => JSON.parse(b).errors[0].extensions)).toEqual([
    { code: "VALIDATION_FAILED", field: "listId" },
  ]);
  expect(Math.abs(foreign - random)).toBeLessThan(Math.max(1, 0.3 * random));
});
