/*
 * Optimistic concurrency over GraphQL: a write that sends the `version` it read as
 * `expectedVersion` happens only if the row is still at that version; otherwise
 * nothing changes and the answer is CONFLICT with `extensions.currentVersion`.
 * Without expectedVersion, writes behave as they always did. Another user's row
 * and a made-up id get exactly the NOT_FOUND they always got.
 */
import { randomUUID } from "node:crypto";
import { startApi, type GraphQLResponse, type TestApi } from "../support/api";
import { SqlSession } from "../support/sql";
import { newUser, type User } from "../support/tokens";

let api: TestApi;
let superuser: SqlSession;
let alice: User;
let bob: User;

beforeAll(async () => {
  // Two of one user's requests must hold connections at once for the races below.
  api = await startApi({ poolSize: 6, env: { DATABASE_CONNECTIONS_PER_USER: "4" } });
  superuser = await SqlSession.open({ autocommit: true });
  alice = await newUser("alice");
  bob = await newUser("bob");
});
afterAll(async () => {
  await superuser.close();
  await api.close();
});

const UPDATE_TASK = `mutation ($id: UUID!, $title: String!, $expected: Int) {
  updateTask(input: { rowId: $id, expectedVersion: $expected, patch: { title: $title } }) { task { title version } }
}`;
const DELETE_TASK = `mutation ($id: UUID!, $expected: Int) {
  deleteTask(input: { rowId: $id, expectedVersion: $expected }) { task { rowId version } }
}`;
const UPDATE_LIST = `mutation ($id: UUID!, $name: String!, $expected: Int) {
  updateList(input: { rowId: $id, expectedVersion: $expected, patch: { name: $name } }) { list { name version } }
}`;
const DELETE_LIST = `mutation ($id: UUID!, $expected: Int) {
  deleteList(input: { rowId: $id, expectedVersion: $expected }) { list { rowId version } }
}`;

async function createTask(user: User, title = "Write the report"): Promise<string> {
  const { body } = await api.graphql(
    `mutation ($title: String!) { createTask(input: { task: { title: $title } }) { task { rowId version } } }`,
    { title },
    { token: user.token },
  );
  expect(body.data!.createTask.task.version).toBe(1);
  return body.data!.createTask.task.rowId as string;
}

async function createList(user: User, name = "Work"): Promise<string> {
  const { body } = await api.graphql(
    `mutation ($name: String!) { createList(input: { list: { name: $name } }) { list { rowId version } } }`,
    { name },
    { token: user.token },
  );
  expect(body.data!.createList.list.version).toBe(1);
  return body.data!.createList.list.rowId as string;
}

/** The row as it is in the database, seen past row-level security; undefined when it is gone. */
async function stored(table: "tasks" | "lists", id: string) {
  const column = table === "tasks" ? "title" : "name";
  const rows = await superuser.query<{ label: string; version: number; updated_at: Date }>(
    `select ${column} as label, version, updated_at from app_public.${table} where id = $1`,
    [id],
  );
  return rows[0];
}

const conflictOf = (response: GraphQLResponse) => response.body.errors?.[0]?.extensions;

describe("a write with the version the client read", () => {
  it("succeeds and moves the version on by one", async () => {
    const id = await createTask(alice);
    const response = await api.graphql(UPDATE_TASK, { id, title: "Edited", expected: 1 }, { token: alice.token });
    expect(response.body).toEqual({ data: { updateTask: { task: { title: "Edited", version: 2 } } } });
    const again = await api.graphql(UPDATE_TASK, { id, title: "Again", expected: 2 }, { token: alice.token });
    expect(again.body.data!.updateTask.task).toEqual({ title: "Again", version: 3 });
    expect(await stored("tasks", id)).toMatchObject({ label: "Again", version: 3 });
  });

  it("costs nothing extra: one connection, as without a version; only a conflict reads once more", async () => {
    const id = await createTask(alice);
    const connectionsFor = async (variables: Record<string, unknown>) => {
      const before = api.connections();
      await api.graphql(UPDATE_TASK, { id, title: "Counted", ...variables }, { token: alice.token });
      return api.connections() - before;
    };
    expect(await connectionsFor({})).toBe(1);
    expect(await connectionsFor({ expected: 2 })).toBe(1);
    expect(await connectionsFor({ expected: 2 })).toBe(2); // the write, then the read that tells CONFLICT
  });

  it("deletes the row when it is still at that version", async () => {
    const id = await createTask(alice);
    const response = await api.graphql(DELETE_TASK, { id, expected: 1 }, { token: alice.token });
    expect(response.body).toEqual({ data: { deleteTask: { task: { rowId: id, version: 1 } } } });
    expect(await stored("tasks", id)).toBeUndefined();
  });

  it("works the same for lists", async () => {
    const id = await createList(alice);
    const updated = await api.graphql(UPDATE_LIST, { id, name: "Home", expected: 1 }, { token: alice.token });
    expect(updated.body.data!.updateList.list).toEqual({ name: "Home", version: 2 });
    const deleted = await api.graphql(DELETE_LIST, { id, expected: 2 }, { token: alice.token });
    expect(deleted.body.data!.deleteList.list).toEqual({ rowId: id, version: 2 });
    expect(await stored("lists", id)).toBeUndefined();
  });

  it("can be written as a literal in the document, too", async () => {
    const id = await createTask(alice);
    const literal = (expected: number) =>
      `mutation { updateTask(input: { rowId: "${id}", expectedVersion: ${expected}, patch: { title: "Lit" } }) { task { version } } }`;
    expect((await api.graphql(literal(1), {}, { token: alice.token })).body.data!.updateTask.task.version).toBe(2);
    expect(conflictOf(await api.graphql(literal(1), {}, { token: alice.token }))).toMatchObject({
      code: "CONFLICT",
      currentVersion: 2,
    });
  });
});

it("reads expectedVersion from a whole-input variable, whether it is set, null or absent", async () => {
  const id = await createTask(alice);
  const document = `mutation ($input: UpdateTaskInput!) { updateTask(input: $input) { task { version } } }`;
  const send = (extra: Record<string, unknown>) =>
    api.graphql(document, { input: { rowId: id, patch: { title: "Whole" }, ...extra } }, { token: alice.token });
  expect((await send({ expectedVersion: 1 })).body.data!.updateTask.task.version).toBe(2);
  expect(conflictOf(await send({ expectedVersion: 1 }))).toMatchObject({ code: "CONFLICT", currentVersion: 2 });
  expect((await send({})).body.data!.updateTask.task.version).toBe(3);
  expect((await send({ expectedVersion: null })).body.data!.updateTask.task.version).toBe(4);
  expect(conflictOf(await send({ expectedVersion: 3 }))).toMatchObject({ code: "CONFLICT", currentVersion: 4 });
});

describe("a write with an outdated version", () => {
  it("changes nothing and answers CONFLICT with the current version", async () => {
    const id = await createTask(alice, "Original");
    await api.graphql(UPDATE_TASK, { id, title: "Phone's edit", expected: 1 }, { token: alice.token });
    const before = await stored("tasks", id);

    const response = await api.graphql(
      UPDATE_TASK,
      { id, title: "Laptop's edit", expected: 1 },
      { token: alice.token },
    );

    expect(response.status).toBe(200); // like every error decided while running the operation
    expect(response.body.data).toEqual({ updateTask: null });
    expect(response.body.errors).toEqual([
      {
        message:
          "this task was changed since you read it (it is now at version 2); read it again, then retry or ask the user",
        locations: expect.any(Array),
        path: ["updateTask"],
        extensions: { code: "CONFLICT", currentVersion: 2, debug: expect.any(String) },
      },
    ]);
    expect(await stored("tasks", id)).toEqual(before);
    expect(before).toMatchObject({ label: "Phone's edit", version: 2 });
  });

  it("does not delete: the row is still there, unchanged", async () => {
    const id = await createTask(alice, "Keep me");
    await api.graphql(UPDATE_TASK, { id, title: "Kept", expected: 1 }, { token: alice.token });
    const before = await stored("tasks", id);

    const response = await api.graphql(DELETE_TASK, { id, expected: 1 }, { token: alice.token });

    expect(response.body.data).toEqual({ deleteTask: null });
    expect(conflictOf(response)).toMatchObject({ code: "CONFLICT", currentVersion: 2 });
    expect(await stored("tasks", id)).toEqual(before);
  });

  it("answers CONFLICT for lists too, and leaves the list alone", async () => {
    const id = await createList(alice, "Errands");
    await api.graphql(UPDATE_LIST, { id, name: "Errands!", expected: 1 }, { token: alice.token });
    const stale = await api.graphql(UPDATE_LIST, { id, name: "Stale", expected: 1 }, { token: alice.token });
    expect(conflictOf(stale)).toMatchObject({ code: "CONFLICT", currentVersion: 2 });
    const staleDelete = await api.graphql(DELETE_LIST, { id, expected: 1 }, { token: alice.token });
    expect(conflictOf(staleDelete)).toMatchObject({ code: "CONFLICT", currentVersion: 2 });
    expect(await stored("lists", id)).toMatchObject({ label: "Errands!", version: 2 });
  });

  it("also answers CONFLICT for a version the row never had", async () => {
    const id = await createTask(alice);
    for (const expected of [0, -1, 2, 2147483647]) {
      const response = await api.graphql(UPDATE_TASK, { id, title: "x", expected }, { token: alice.token });
      expect(conflictOf(response)).toMatchObject({ code: "CONFLICT", currentVersion: 1 });
    }
    expect(await stored("tasks", id)).toMatchObject({ label: "Write the report", version: 1 });
  });
});

describe("in production", () => {
  let production: TestApi;
  beforeAll(async () => {
    production = await startApi({ production: true });
  });
  afterAll(() => production.close());

  it("CONFLICT carries the code and currentVersion, nothing else", async () => {
    const id = await createTask(alice);
    await production.graphql(UPDATE_TASK, { id, title: "First", expected: 1 }, { token: alice.token });
    const response = await production.graphql(
      UPDATE_TASK,
      { id, title: "Second", expected: 1 },
      { token: alice.token },
    );
    expect(response.body.errors![0]!.extensions).toEqual({ code: "CONFLICT", currentVersion: 2 });
  });
});

describe("a write without a version", () => {
  it("behaves as before: last write wins, and the version still moves", async () => {
    const id = await createTask(alice);
    for (const variables of [
      { id, title: "One" },
      { id, title: "Two", expected: null },
    ]) {
      const response = await api.graphql(UPDATE_TASK, variables, { token: alice.token });
      expect(response.body.errors).toBeUndefined();
    }
    expect(await stored("tasks", id)).toMatchObject({ label: "Two", version: 3 });
  });
});

describe("another user's row, or an id that does not exist", () => {
  /** The whole response, for comparing byte for byte. */
  const answer = (response: GraphQLResponse) => JSON.stringify({ status: response.status, body: response.body });

  it.each([
    ["updateTask", UPDATE_TASK, "tasks"],
    ["deleteTask", DELETE_TASK, "tasks"],
    ["updateList", UPDATE_LIST, "lists"],
    ["deleteList", DELETE_LIST, "lists"],
  ] as const)(
    "%s: the same NOT_FOUND with or without expectedVersion, whoever's row it is",
    async (_field, mutation, table) => {
      const aliceRow = table === "tasks" ? await createTask(alice, "Alice's") : await createList(alice, "Alice's");
      const before = await stored(table, aliceRow);
      expect(before).toMatchObject({ label: "Alice's", version: 1 }); // it exists, at version 1

      const answers = new Set<string>();
      for (const id of [aliceRow, randomUUID()]) {
        // Without; with the row's real version; with a wrong one.
        for (const expected of [undefined, 1, 7]) {
          const response = await api.graphql(
            mutation,
            { id, expected, title: "Bob's", name: "Bob's" },
            { token: bob.token },
          );
          answers.add(answer(response));
        }
      }

      expect([...answers]).toHaveLength(1);
      expect(JSON.parse([...answers][0]!).body.errors[0].extensions.code).toBe("NOT_FOUND");

      // And the same as a document written before expectedVersion existed (its error points elsewhere in it).
      const today = mutation
        .replace(", $expected: Int", "")
        .replace("expectedVersion: $expected, ", "")
        .replace(", expectedVersion: $expected", "");
      const withoutLocations = (text: string) => {
        const { status, body } = JSON.parse(text) as { status: number; body: GraphQLResponse["body"] };
        return { status, data: body.data, errors: body.errors!.map(({ locations: _, ...error }: any) => error) };
      };
      const old = await api.graphql(today, { id: aliceRow, title: "Bob's", name: "Bob's" }, { token: bob.token });
      expect(withoutLocations(answer(old))).toEqual(withoutLocations([...answers][0]!));
      expect(await stored(table, aliceRow)).toEqual(before);
    },
  );
});

/*
 * Real concurrency, made certain: a SQL session locks the row, both requests are
 * sent, and the lock is released only once both of them are waiting on it inside
 * Postgres. Whichever gets the row first writes; the other re-checks its WHERE on
 * the row the winner left and matches nothing.
 */
describe("two devices writing the same version at once", () => {
  const RACES = 20;
  const WAITING_ON = `with recursive blocked(pid) as (
      select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))
      union
      select a.pid from pg_stat_activity a join blocked b on b.pid = any(pg_blocking_pids(a.pid))
    ) select count(*)::int as n from blocked`;

  /** Both mutations, sent while the row is locked; released once both wait on the lock. */
  async function race(id: string, mutations: readonly string[]) {
    const holder = await SqlSession.open({ autocommit: true });
    const observer = await SqlSession.open({ autocommit: true });
    try {
      await holder.query("begin");
      await holder.query("select 1 from app_public.tasks where id = $1 for update", [id]);
      const { pid } = await holder.one<{ pid: number }>("select pg_backend_pid() as pid");
      const sent = mutations.map((mutation, device) =>
        api.graphql(mutation, { id, title: `Device ${device}`, expected: 2 }, { token: alice.token }),
      );
      while ((await observer.one<{ n: number }>(WAITING_ON, [pid])).n < mutations.length);
      await holder.query("commit");
      return await Promise.all(sent);
    } finally {
      await observer.close();
      await holder.close();
    }
  }

  it.each([
    ["update and update", [UPDATE_TASK, UPDATE_TASK]],
    ["update and delete", [UPDATE_TASK, DELETE_TASK]],
  ] as const)("%s: in every race exactly one wins and the other is told why", async (name, mutations) => {
    const outcomes = { races: 0, winners: 0, conflicts: 0, notFound: 0 };
    for (let round = 0; round < RACES; round++) {
      const id = await createTask(alice, "Contested");
      // Both devices read version 2.
      await api.graphql(UPDATE_TASK, { id, title: "Read by both", expected: 1 }, { token: alice.token });

      const responses = await race(id, mutations);

      const won = responses.filter((r) => !r.body.errors);
      const [lost] = responses.filter((r) => r.body.errors);
      outcomes.races += 1;
      outcomes.winners += won.length;
      expect(won).toHaveLength(1);
      const row = await stored("tasks", id);
      if (won[0]!.body.data!.deleteTask) {
        // The row is gone: the update that lost finds nothing, as for any missing row.
        outcomes.notFound += 1;
        expect(row).toBeUndefined();
        expect(conflictOf(lost!)).toMatchObject({ code: "NOT_FOUND" });
      } else {
        // Start (2) plus the one successful write; the loser is told that version.
        outcomes.conflicts += 1;
        expect(row).toMatchObject({ version: 3, label: expect.stringMatching(/^Device [01]$/) });
        expect(conflictOf(lost!)).toEqual(expect.objectContaining({ code: "CONFLICT", currentVersion: 3 }));
      }
    }
    process.stdout.write(`${name}: ${JSON.stringify(outcomes)}\n`);
    expect(outcomes.winners).toBe(RACES);
    expect(outcomes.conflicts + outcomes.notFound).toBe(RACES);
  });
});

describe("the version itself", () => {
  it("is not an input: neither createTask nor a patch accepts it", async () => {
    const create = await api.graphql(
      `mutation { createTask(input: { task: { title: "x", version: 5 } }) { task { version } } }`,
      {},
      { token: alice.token },
    );
    expect(create.status).toBe(200);
    expect(conflictOf(create)).toMatchObject({ code: "BAD_USER_INPUT" });
    const id = await createTask(alice);
    for (const patch of [`{ version: 5 }`, `{ title: "y", version: 5 }`]) {
      const update = await api.graphql(
        `mutation { updateTask(input: { rowId: "${id}", patch: ${patch} }) { task { version } } }`,
        {},
        { token: alice.token },
      );
      expect(conflictOf(update)).toMatchObject({ code: "BAD_USER_INPUT" });
    }
    expect(await stored("tasks", id)).toMatchObject({ version: 1 });
  });
});
