/*
 * The error catalogue as clients see it: each class of failure gets its code
 * (and field), and nothing internal — SQL, constraint, table or host names, stack
 * traces — reaches the response. Unexpected errors are logged under the id the
 * client is given.
 */
import { Client } from "pg";
import { CONSTRAINTS } from "../../src/errors/mask";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { newUser } from "../support/tokens";

const CREATE_TASK = `mutation ($task: TaskInput!) { createTask(input: { task: $task }) { task { rowId } } }`;
/** Words that would mean database internals leaked into a response. */
const INTERNALS =
  /constraint|violat|relation|app_public|app_private|select .+ from|insert into|update \S+ set|tasks_|lists_|tag_length|postgres|stack|at [\w.]+ \(/i;

it("answers 400 to an invalid document when the client accepts application/graphql-response+json", async () => {
  const api = await startApi();
  try {
    const response = await api.graphql(`{ nope }`, {}, { headers: { accept: "application/graphql-response+json" } });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  } finally {
    await api.close();
  }
});

it("answers 405 with Allow: POST and BAD_USER_INPUT to a GraphQL request sent as GET", async () => {
  const api = await startApi({ production: true });
  try {
    const response = await fetch(`${api.url}/graphql?query=${encodeURIComponent("{ currentUserId }")}`, {
      headers: { accept: "application/json" },
    });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors).toEqual([
      { message: "GraphQL requests must use POST", extensions: { code: "BAD_USER_INPUT" } },
    ]);
  } finally {
    await api.close();
  }
});

describe.each([false, true])("with production = %s", (production) => {
  let api: TestApi;
  let token: string;
  beforeAll(async () => {
    api = await startApi({ production });
    ({ token } = await newUser("erin"));
  });
  afterAll(() => api.close());

  async function errorOf(
    query: string,
    variables: Record<string, unknown> = {},
    auth: string | null = token,
  ): Promise<Record<string, any>> {
    const { status, body } = await api.graphql(query, variables, auth ? { token: auth } : {});
    expect(body.errors).toHaveLength(1);
    const error = body.errors![0]!;
    if (production) {
      expect(JSON.stringify(body.errors)).not.toMatch(INTERNALS);
      expect(error.extensions).not.toHaveProperty("debug");
    }
    return { status, message: error.message, ...(error.extensions as Record<string, any>) };
  }

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ["a blank title", { title: "   " }, "title"],
    ["a 501-character title", { title: "x".repeat(501) }, "title"],
    ["a 10,001-character description", { title: "t", description: "x".repeat(10001) }, "description"],
    ["21 tags", { title: "t", tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, "tags"],
    ["a 51-character tag", { title: "t", tags: ["x".repeat(51)] }, "tags"],
    ["an empty tag", { title: "t", tags: [""] }, "tags"],
    ["a list that does not exist", { title: "t", listId: "00000000-0000-4000-8000-000000000000" }, "listId"],
  ];

  it.each(invalid)("reports %s as VALIDATION_FAILED on its field", async (_what, task, field) => {
    const error = await errorOf(CREATE_TASK, { task });
    expect(error).toMatchObject({
      code: "VALIDATION_FAILED",
      field,
      message: CONSTRAINTS[constraintFor(field, task)]!.message,
    });
  });

  it("reports an invalid list name as VALIDATION_FAILED on name", async () => {
    const error = await errorOf(`mutation { createList(input: { list: { name: "  " } }) { list { rowId } } }`);
    expect(error).toMatchObject({ code: "VALIDATION_FAILED", field: "name" });
  });

  it("reports an update that changes nothing as BAD_USER_INPUT", async () => {
    const created = await api.graphql(
      `mutation { createTask(input: { task: { title: "t" } }) { task { rowId } } }`,
      {},
      { token },
    );
    const error = await errorOf(
      `mutation ($id: UUID!) { updateTask(input: { rowId: $id, patch: {} }) { task { rowId } } }`,
      {
        id: created.body.data!.createTask.task.rowId,
      },
    );
    expect(error).toMatchObject({ code: "BAD_USER_INPUT", message: expect.stringContaining("no new values") });
  });

  it("reports a malformed value as BAD_USER_INPUT", async () => {
    const badUuid = await errorOf(`query ($id: UUID!) { task(rowId: $id) { title } }`, { id: "not-a-uuid" });
    expect(badUuid.code).toBe("BAD_USER_INPUT");
    const badDate = await errorOf(CREATE_TASK, { task: { title: "t", dueAt: "next tuesday" } });
    expect(badDate.code).toBe("BAD_USER_INPUT");
  });

  it("reports an empty or null filter operand as BAD_USER_INPUT", async () => {
    const empty = await errorOf(`{ tasks(filter: { title: {} }) { totalCount } }`);
    expect(empty).toMatchObject({ code: "BAD_USER_INPUT", message: expect.stringContaining("Empty objects") });
    const nullOperand = await errorOf(`{ tasks(filter: { title: { equalTo: null } }) { totalCount } }`);
    expect(nullOperand).toMatchObject({ code: "BAD_USER_INPUT", message: expect.stringContaining("Null literals") });
  });

  it("reports syntax and validation errors as BAD_USER_INPUT", async () => {
    expect(await errorOf(`{ tasks { nodes { title }`)).toMatchObject({ code: "BAD_USER_INPUT" });
    const unknown = await errorOf(`{ tasks { nodes { titel } } }`);
    expect(unknown).toMatchObject({ code: "BAD_USER_INPUT" });
    // Suggestions describe the schema; production does not offer them.
    if (production) expect(unknown.message).not.toMatch(/Did you mean/);
    else expect(unknown.message).toMatch(/Did you mean "title"\?/);
  });

  it("reports an anonymous read of tasks as FORBIDDEN", async () => {
    expect(await errorOf(`{ tasks { totalCount } }`, {}, null)).toMatchObject({ code: "FORBIDDEN" });
  });

  it("masks an unexpected failure as INTERNAL and logs it under the same id", async () => {
    const secretDetail = "could not reach db-7.internal.example:5432 (relation app_private.x)";
    // Fault injection: nothing else makes a healthy pool fail one checkout on demand.
    jest.spyOn(api.pool, "connect").mockImplementationOnce(() => Promise.reject(new Error(secretDetail)));
    const { status, body } = await api.graphql(`{ tasks { totalCount } }`, {}, { token });
    expect(status).toBe(200);
    const error = body.errors![0]!;
    expect(error.extensions).toMatchObject({ code: "INTERNAL", errorId: expect.any(String) });
    expect(error.message).toContain(error.extensions!.errorId);
    if (production) expect(JSON.stringify(body)).not.toContain("internal.example");
    const logged = api.logs.find((line) => line.errorId === error.extensions!.errorId);
    expect(logged?.err?.message).toBe(secretDetail);
  });

  // GraphiQL in development is checked against the real `npm start` in start.test.ts.
  it(production ? "refuses introspection and serves no GraphiQL" : "allows introspection", async () => {
    const { body } = await api.graphql(`{ __schema { queryType { name } } }`, {}, { token });
    if (production) {
      expect(body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      expect((await fetch(`${api.url}/graphiql`)).status).toBe(404);
    } else {
      expect(body.data).toEqual({ __schema: { queryType: { name: "Query" } } });
    }
  });
});

function constraintFor(field: string, task: Record<string, unknown>): string {
  if (field === "tags") return (task.tags as string[]).length > 20 ? "tasks_tags_count" : "tag_length";
  if (field === "listId") return "tasks_list_id_fkey";
  return `tasks_${field}_length`;
}

it("maps every named constraint in the schema to a field and message", async () => {
  const db = new Client({ connectionString: testDb.superuserUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ name: string }>(
      `select c.conname as name from pg_constraint c join pg_namespace n on n.oid = c.connamespace
       where n.nspname = 'app_public' and c.contype in ('c', 'f') order by 1`,
    );
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.map((r) => r.name).filter((name) => !(name in CONSTRAINTS))).toEqual([]);
  } finally {
    await db.end();
  }
});
