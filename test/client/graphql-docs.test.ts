/*
 * docs/graphql.md is executable: every ```graphql block in it is validated against the
 * committed schema.graphql and then run, in the order the page shows them, against the live
 * API as one user with a few tasks. A ```json variables block right after an operation holds
 * its variables; "<…>" values in it are placeholders for that user's own ids. The README's
 * GraphQL examples are validated against the schema too.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { buildSchema, getOperationAST, parse, validate } from "postgraphile/graphql";
import { ROOT_DIR } from "../../src/paths";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { newUser } from "../support/tokens";

interface Example {
  name: string;
  line: number;
  source: string;
  variables?: Record<string, unknown>;
}

const schema = buildSchema(readFileSync(path.join(ROOT_DIR, "schema.graphql"), "utf8"));

/** The ```graphql blocks of a Markdown file, each with the ```json variables block that follows it, if any. */
function examplesIn(file: string): Example[] {
  const markdown = readFileSync(path.join(ROOT_DIR, file), "utf8");
  const fence = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  const examples: Example[] = [];
  let previousEnd = -1;
  for (let match; (match = fence.exec(markdown));) {
    const [info = "", body = ""] = [match[1]?.trim(), match[2]];
    const line = markdown.slice(0, match.index).split("\n").length;
    if (info === "graphql") {
      const operation = getOperationAST(parse(body));
      examples.push({ name: operation?.name?.value ?? `the example at line ${line}`, line, source: body });
    } else if (info === "json variables") {
      const owner = examples.at(-1);
      if (!owner || markdown.slice(previousEnd, match.index).trim() !== "" || owner.variables) {
        throw new Error(`${file}:${line}: a variables block must directly follow its graphql block`);
      }
      owner.variables = JSON.parse(body) as Record<string, unknown>;
    }
    previousEnd = match.index + match[0].length;
  }
  return examples;
}

const docs = examplesIn("docs/graphql.md");

describe("the examples in README.md", () => {
  it.each(examplesIn("README.md").map((example) => [example.line, example]))(
    "at line %i are valid against schema.graphql",
    (_line, example) => {
      expect(validate(schema, parse(example.source)).map((error) => error.message)).toEqual([]);
    },
  );
});

describe("the examples in docs/graphql.md", () => {
  let api: TestApi;
  let token: string;
  const placeholders: Record<string, string | number> = {};

  beforeAll(async () => {
    let sub: string;
    ({ sub, token } = await newUser("docs"));
    // One user with a list and five tasks (one done, one overdue, one outside the list), inserted as the superuser.
    const db = new Client({ connectionString: testDb.superuserUrl });
    await db.connect();
    try {
      const list = await db.query<{ id: string }>(
        "insert into app_public.lists (user_id, name) values ($1, 'Home') returning id",
        [sub],
      );
      const listId = list.rows[0]!.id;
      const insert = (title: string, priority: string, tags: string[], dueAt: string | null, inList: boolean) =>
        db.query<{ id: string }>(
          `insert into app_public.tasks (user_id, title, priority, tags, due_at, list_id)
           values ($1, $2, $3, $4, $5, $6) returning id`,
          [sub, title, priority, tags, dueAt, inList ? listId : null],
        );
      await insert("Buy milk", "low", ["errand"], null, true);
      await db.query("update app_public.tasks set completed = true where user_id = $1 and title = 'Buy milk'", [sub]);
      const plumber = await insert("Call the plumber", "high", ["home", "errand"], "2026-11-20T09:00:00Z", true);
      const report = await insert("Write the quarterly report", "urgent", ["work"], "2026-12-05T17:00:00Z", false);
      await insert("Read a book", "none", [], null, false);
      await insert("Water the plants", "medium", ["home"], null, true);
      placeholders["<list rowId>"] = listId;
      placeholders["<task rowId>"] = plumber.rows[0]!.id;
      placeholders["<another task rowId>"] = report.rows[0]!.id;
    } finally {
      await db.end();
    }
    api = await startApi();
  });
  afterAll(() => api?.close());

  /** Replaces "<…>" strings by this user's values; an unknown placeholder fails the example. */
  function resolve(value: unknown): unknown {
    if (typeof value === "string" && /^<.+>$/.test(value)) {
      const resolved = placeholders[value];
      if (resolved === undefined) throw new Error(`no value for the placeholder ${value}`);
      return resolved;
    }
    if (Array.isArray(value)) return value.map(resolve);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, resolve(inner)]));
    }
    return value;
  }

  /** Remembers the last endCursor and version an example returned: the next example's "<endCursor>", "<version>". */
  function rememberCursors(value: unknown): void {
    if (!value || typeof value !== "object") return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === "endCursor" && typeof inner === "string") placeholders["<endCursor>"] = inner;
      else if (key === "version" && typeof inner === "number") placeholders["<version>"] = inner;
      else rememberCursors(inner);
    }
  }

  it("has the examples this test relies on", () => {
    expect(docs.length).toBeGreaterThanOrEqual(15);
    expect(docs.filter((example) => example.variables).length).toBeGreaterThanOrEqual(8);
  });

  it.each(docs.map((example) => [example.name, example.line, example]))(
    "%s (line %i) is valid against schema.graphql and runs without errors",
    async (_name, _line, example) => {
      expect(validate(schema, parse(example.source)).map((error) => error.message)).toEqual([]);
      const { status, body } = await api.graphql(
        example.source,
        resolve(example.variables) as Record<string, unknown>,
        {
          token,
        },
      );
      expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
      expect(body.data).toEqual(expect.any(Object));
      rememberCursors(body.data);
    },
  );

  it("groups by keys that are Postgres text, as the page says", async () => {
    const { body } = await api.graphql(
      `{
        done: tasks(filter: { completed: { equalTo: true } }) { nodes { completedAt } }
        tasks(filter: { completed: { equalTo: true } }) {
          groupedAggregates(groupBy: [PRIORITY, COMPLETED, COMPLETED_AT_TRUNCATED_TO_DAY, DUE_AT]) { keys }
        }
      }`,
      {},
      { token },
    );
    const day = (body.data?.done.nodes[0].completedAt as string).slice(0, 10);
    expect(body.data?.tasks.groupedAggregates).toEqual([
      { keys: ["low", "true", `${day}T00:00:00.000000+00:00`, null] },
    ]);
  });

  it("ran against the seeded user's rows, not an empty account", async () => {
    const { body } = await api.graphql("{ tasks { totalCount } lists { totalCount } }", {}, { token });
    // Five seeded, one created, one deleted by the examples; one list seeded, one created.
    expect(body.data).toEqual({ tasks: { totalCount: 5 }, lists: { totalCount: 2 } });
  });
});
