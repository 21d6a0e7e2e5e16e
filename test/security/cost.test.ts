/*
 * The row cost of an operation (src/graphql/cost.ts), against the committed
 * schema: every connection's page, from a literal, a variable, a variable's
 * default or the default page, multiplied along nesting and summed over fields,
 * aliases and fragments. The API tests of the same rules are in limits.test.ts.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { buildSchema, parse } from "postgraphile/graphql";
import { assessOperation, type CostRules } from "../../src/graphql/cost";
import { ROOT_DIR } from "../../src/paths";
import { SCHEMA_FILE } from "../../scripts/printSchema";

const schema = buildSchema(readFileSync(SCHEMA_FILE, "utf8"));
const rules: CostRules = { pageSize: 100, defaultPageSize: 100, cost: 20_000, subscriptionCost: 1_000 };

function assess(query: string, variables?: Record<string, unknown>, operationName?: string, given = rules) {
  return assessOperation(schema, parse(query), operationName, variables, given);
}
const rowsOf = (query: string, variables?: Record<string, unknown>) => {
  const { rows, error } = assess(query, variables);
  expect(error).toBeUndefined();
  return rows;
};
const refusal = (query: string, variables?: Record<string, unknown>, given = rules) =>
  assess(query, variables, undefined, given).error?.extensions;

/** The two hostile queries. */
const NESTED_THREE = `{ tasks { nodes { list { tasks { nodes { list { tasks { nodes { rowId } } } } } } } } }`;
const NESTED_TWO = `tasks { nodes { list { tasks { nodes { title description tags createdAt } } } } }`;

describe("pages", () => {
  it("a connection without first or last reads the default page; with them, what they say", () => {
    expect(rowsOf(`{ tasks { nodes { rowId } } }`)).toBe(100);
    expect(rowsOf(`{ tasks(first: 7) { nodes { rowId } } }`)).toBe(7);
    expect(rowsOf(`{ tasks(last: 3) { edges { cursor node { rowId } } } }`)).toBe(3);
    expect(rowsOf(`{ tasks(first: 10, last: 4) { nodes { rowId } } }`)).toBe(4);
    expect(rowsOf(`{ tasks(first: null) { nodes { rowId } } }`)).toBe(100);
    const small = { ...rules, defaultPageSize: 20 };
    expect(assess(`{ lists { nodes { rowId } } }`, {}, undefined, small).rows).toBe(20);
  });

  it("reads variables as sent, else their declared default, else the default page", () => {
    const query = `query ($n: Int = 5) { tasks(first: $n) { nodes { rowId } } }`;
    expect(rowsOf(query)).toBe(5);
    expect(rowsOf(query, { n: 9 })).toBe(9);
    expect(rowsOf(query, { n: null })).toBe(100);
    expect(rowsOf(`query ($n: Int) { tasks(last: $n) { nodes { rowId } } }`)).toBe(100);
  });

  it("refuses first and last above the page size, literal, sent or by default, with the argument named", () => {
    const cases: Array<[string, Record<string, unknown>?]> = [
      [`{ tasks(first: 101) { nodes { rowId } } }`],
      [`query ($n: Int) { tasks(last: $n) { nodes { rowId } } }`, { n: 1000 }],
      [`query ($n: Int = 100000) { tasks(first: $n) { nodes { rowId } } }`],
      [`query ($n: Int = 100000) { lists(last: $n) { nodes { rowId } } }`],
      [`{ lists(first: 1) { nodes { tasks(first: 1000) { totalCount } } } }`],
    ];
    for (const [query, variables] of cases) {
      expect(refusal(query, variables)).toEqual({ code: "LIMIT_EXCEEDED", limit: "pageSize" });
    }
    const { error } = assess(`query ($n: Int = 100000) { tasks(first: $n) { nodes { rowId } } }`);
    expect(error?.message).toBe("first may be at most 100; page through larger results with cursors");
    expect(refusal(`{ tasks(first: 100) { nodes { rowId } } }`)).toBeUndefined();
  });

  it("refuses negative first, last and offset as BAD_USER_INPUT, however they are given", () => {
    const cases: Array<[string, Record<string, unknown>?]> = [
      [`{ tasks(first: -1) { nodes { rowId } } }`],
      [`{ tasks(last: -5) { nodes { rowId } } }`],
      [`{ tasks(offset: -1) { nodes { rowId } } }`],
      [`query ($n: Int) { tasks(first: $n) { nodes { rowId } } }`, { n: -1 }],
      [`query ($n: Int = -2) { tasks(last: $n) { nodes { rowId } } }`],
    ];
    for (const [query, variables] of cases) {
      expect(refusal(query, variables)).toEqual({ code: "BAD_USER_INPUT" });
    }
    expect(assess(`{ tasks(first: -1) { nodes { rowId } } }`).error?.message).toBe("first must not be negative");
    expect(refusal(`{ tasks(offset: 100000, first: 0) { nodes { rowId } } }`)).toBeUndefined();
  });
});

describe("rows", () => {
  it("counts rows only where they are read: items, single related rows, one per aggregate", () => {
    expect(rowsOf(`{ currentUserId }`)).toBe(0);
    expect(rowsOf(`{ tasks { totalCount pageInfo { hasNextPage } } }`)).toBe(1);
    expect(rowsOf(`{ tasks(first: 5) { totalCount nodes { rowId } edges { cursor } } }`)).toBe(6);
    expect(rowsOf(`query ($id: UUID!) { task(rowId: $id) { list { name } } }`)).toBe(2);
    expect(rowsOf(`{ tasks(first: 5) { nodes { list { name } } } }`)).toBe(10);
    expect(
      rowsOf(`{ tasks { groupedAggregates(groupBy: PRIORITY) { keys } aggregates { distinctCount { rowId } } } }`),
    ).toBe(2);
  });

  it("multiplies a connection by everything nested in its items, through nodes and edges alike", () => {
    // 10 lists, each with its row and 5 tasks.
    expect(rowsOf(`{ lists(first: 10) { nodes { tasks(first: 5) { nodes { title } } } } }`)).toBe(10 * (1 + 5));
    expect(rowsOf(`{ lists(first: 10) { edges { node { tasks(first: 5) { nodes { title } } } } } }`)).toBe(60);
    // A task's list is one row, not a page, but the list's tasks are a page for every task.
    expect(rowsOf(`{ tasks(first: 10) { nodes { list { tasks(first: 5) { totalCount nodes { rowId } } } } } }`)).toBe(
      10 * (1 + 1 + (1 + 5)),
    );
  });

  it("prices the issue's hostile queries far above the budget", () => {
    // 100 tasks × (their list + 100 tasks × (their list + 100 tasks)).
    const nested = assess(NESTED_THREE);
    expect(nested.rows).toBe(100 * (1 + 1 + 100 * (1 + 1 + 100)));
    expect(nested.error?.extensions).toEqual({ code: "LIMIT_EXCEEDED", limit: "cost" });

    expect(rowsOf(`{ ${NESTED_TWO} }`)).toBe(10_200);
    const aliases = Array.from({ length: 15 }, (_, i) => `a${i}: ${NESTED_TWO}`).join(" ");
    const aliased = assess(`{ ${aliases} }`);
    expect(aliased.rows).toBe(15 * 10_200);
    expect(aliased.error?.extensions).toEqual({ code: "LIMIT_EXCEEDED", limit: "cost" });
    expect(aliased.error?.message).toBe(
      "this operation could read up to 153000 rows, more than the 20000 allowed; " +
        "ask for smaller pages (first/last) or fewer nested connections",
    );
  });

  it("sums aliases and fragments, named and inline, wherever they are spread", () => {
    const fragments = `
      fragment Page on TaskConnection { nodes { ...Row } }
      fragment Row on Task { rowId list { ... on List { tasks(first: 2) { nodes { rowId } } } } }`;
    // Each of 3 tasks: itself, its list, 2 of the list's tasks.
    expect(rowsOf(`{ tasks(first: 3) { ...Page } } ${fragments}`)).toBe(3 * 4);
    expect(rowsOf(`{ a: tasks(first: 3) { ...Page } b: tasks(first: 1) { ...Page } } ${fragments}`)).toBe(12 + 4);
    expect(rowsOf(`{ tasks(first: 3) { ... on TaskConnection { ...Page } nodes { ...Row } } } ${fragments}`)).toBe(
      3 * (1 + 3 + 3),
    );
  });

  it("prices only the selected operation, with its own variables' defaults", () => {
    const document = `
      query Small($n: Int = 2) { tasks(first: $n) { nodes { rowId } } }
      query Large($n: Int = 100000) { tasks(first: $n) { nodes { rowId } } }`;
    expect(assess(document, {}, "Small")).toEqual({ rows: 2, error: undefined });
    expect(assess(document, {}, "Large").error?.extensions).toMatchObject({ limit: "pageSize" });
  });

  it("prices a subscription's selection like a query's, against the smaller budget of one event", () => {
    expect(rowsOf(`subscription { taskChanged { task { list { tasks { nodes { rowId } } } } } }`)).toBe(1 + 1 + 100);
    // The fan-out selection: as a query, the same rows are allowed.
    const rowsBelowTask = `list { tasks { nodes { list { tasks { nodes { rowId } } } } } }`;
    const heavy = `taskChanged { task { ${rowsBelowTask} } }`;
    expect(rowsOf(`query ($id: UUID!) { task(rowId: $id) { ${rowsBelowTask} } }`)).toBe(10_202);
    const refused = assess(`subscription { ${heavy} }`);
    expect(refused.rows).toBe(1 + 1 + 100 * (1 + 1 + 100));
    expect(refused.error?.extensions).toEqual({ code: "LIMIT_EXCEEDED", limit: "cost" });
    expect(refused.error?.message).toMatch(
      /^each event of this subscription could read up to 10202 rows, more than the 1000 allowed/,
    );
  });

  it("walks each fragment once, however often it is spread", () => {
    // F0 spreads F1 twice, … F39 spreads F40 twice: 2^40 spreads, which no walk could visit one by one.
    const chain = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Task { ...F${i + 1} ...F${i + 1} }`);
    const document = `{ tasks(first: 1) { nodes { ...F0 } } } ${chain.join(" ")} fragment F40 on Task { list { name } }`;
    const { rows, error } = assess(document);
    expect(rows).toBe(1 + 2 ** 40);
    expect(error?.extensions).toEqual({ code: "LIMIT_EXCEEDED", limit: "cost" });
  });
});

it("prices the examples in docs/graphql.md as the table there says", () => {
  const doc = readFileSync(path.join(ROOT_DIR, "docs/graphql.md"), "utf8");
  const section = doc.slice(doc.indexOf("### Cost: the rows an operation may read"));
  const rows = [...section.matchAll(/^\| `([^`]+)` +\| ([^|]+)\|$/gm)];
  expect(rows.length).toBeGreaterThanOrEqual(4);
  for (const [, operation, priced] of rows) {
    const expected = Number(priced!.match(/= ([\d,]+)/)![1]!.replaceAll(",", ""));
    const { rows: estimated, error } = assess(`{ ${operation} }`);
    expect({ operation, rows: estimated, refused: error !== undefined }).toEqual({
      operation,
      rows: expected,
      refused: priced!.includes("refused"),
    });
  }
});
