/*
 * Every `having` the schema offers runs: the test walks the served schema from each
 * connection's `groupedAggregates(having:)` down to every aggregate, column and
 * operator, and sends each with a valid value of its input type. A new column,
 * aggregate or operator is covered without editing this file; a scalar it has no
 * value for fails it. Then the example: a distinct count compares with a
 * number (a date there is the client's mistake), and the filters select the right groups.
 */
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isObjectType,
  type GraphQLInputObjectType,
  type IntrospectionQuery,
} from "postgraphile/graphql";
import { startApi, type TestApi } from "../support/api";
import { newUser } from "../support/tokens";

/** A valid literal for each scalar a `having` operator takes. */
const VALUES: Record<string, string> = {
  BigInt: `"1"`,
  BigFloat: `"1.5"`,
  Int: "1",
  Float: "1.5",
  Datetime: `"2026-01-01T00:00:00Z"`,
};

let api: TestApi;
let token: string;
beforeAll(async () => {
  api = await startApi(); // development: introspection is allowed
  ({ token } = await newUser("having"));
});
afterAll(() => api.close());

async function run(query: string) {
  const { status, body } = await api.graphql(query, {}, { token });
  return { status, body };
}

/** `{ root { groupedAggregates(groupBy: …, having: <having>) { keys } } }` for every root connection with `having`. */
async function havingFields(): Promise<Array<{ root: string; groupBy: string; type: GraphQLInputObjectType }>> {
  const { body } = await run(getIntrospectionQuery());
  const schema = buildClientSchema(body.data as IntrospectionQuery);
  const found = [];
  for (const [root, field] of Object.entries(schema.getQueryType()!.getFields())) {
    const connection = getNamedType(field.type);
    if (!isObjectType(connection)) continue;
    const grouped = connection.getFields().groupedAggregates;
    const having = grouped?.args.find((arg) => arg.name === "having");
    const groupBy = grouped?.args.find((arg) => arg.name === "groupBy");
    if (!having || !groupBy) continue;
    const groupByEnum = getNamedType(groupBy.type);
    const havingType = getNamedType(having.type);
    if (!isEnumType(groupByEnum) || !isInputObjectType(havingType)) throw new Error(`unexpected types on ${root}`);
    found.push({ root, groupBy: groupByEnum.getValues()[0]!.name, type: havingType });
  }
  return found;
}

it("runs every aggregate, column and operator that `having` offers", async () => {
  const roots = await havingFields();
  expect(roots.map((r) => r.root).sort()).toEqual(["lists", "tasks"]);
  const tried: string[] = [];
  for (const { root, groupBy, type } of roots) {
    for (const aggregate of Object.values(type.getFields())) {
      if (aggregate.name === "AND" || aggregate.name === "OR") continue;
      const columns = getNamedType(aggregate.type) as GraphQLInputObjectType;
      for (const column of Object.values(columns.getFields())) {
        const filter = getNamedType(column.type) as GraphQLInputObjectType;
        for (const operator of Object.values(filter.getFields())) {
          const scalar = getNamedType(operator.type).name;
          const value = VALUES[scalar];
          if (value === undefined) throw new Error(`no test value for ${scalar} (${filter.name}.${operator.name})`);
          const having = `{ ${aggregate.name}: { ${column.name}: { ${operator.name}: ${value} } } }`;
          const { status, body } = await run(
            `{ ${root} { groupedAggregates(groupBy: [${groupBy}], having: ${having}) { keys } } }`,
          );
          tried.push(`${root} ${having}`);
          expect({ having: `${root} ${having}`, status, errors: body.errors }).toEqual({
            having: `${root} ${having}`,
            status: 200,
            errors: undefined,
          });
        }
      }
    }
  }
  // count, distinctCount, min and max of each timestamp column, six operators each: 4 × 4 × 6 for tasks, 4 × 2 × 6 for lists.
  expect(tried.length).toBe(144);
  // AND/OR combine them.
  const { body } = await run(
    `{ tasks { groupedAggregates(groupBy: [LIST_ID], having: { OR: [{ distinctCount: { dueAt: { greaterThan: "0" } } }, { max: { createdAt: { lessThan: "2000-01-01T00:00:00Z" } } }] }) { keys } } }`,
  );
  expect(body.errors).toBeUndefined();
});

it("counts distinct values with a number, and refuses a date there as the client's mistake", async () => {
  const mutation = async (query: string, variables: Record<string, unknown>) => {
    const { body } = await api.graphql(query, variables, { token });
    expect(body.errors).toBeUndefined();
    return body.data!;
  };
  const list = async (name: string) =>
    (
      await mutation(`mutation ($name: String!) { createList(input: { list: { name: $name } }) { list { rowId } } }`, {
        name,
      })
    ).createList.list.rowId as string;
  const task = (listId: string, dueAt: string) =>
    mutation(`mutation ($task: TaskInput!) { createTask(input: { task: $task }) { task { rowId } } }`, {
      task: { title: "t", listId, dueAt },
    });
  const [a, b] = [await list("a"), await list("b")];
  await task(a, "2026-03-01T00:00:00Z");
  await task(a, "2026-04-01T00:00:00Z");
  await task(b, "2026-03-01T00:00:00Z");

  const keys = async (having: string) => {
    const { status, body } = await run(
      `{ tasks { groupedAggregates(groupBy: [LIST_ID], having: ${having}) { keys } } }`,
    );
    expect([status, body.errors]).toEqual([200, undefined]);
    return body.data!.tasks.groupedAggregates.map((g: { keys: string[] }) => g.keys[0]).sort();
  };
  expect(await keys(`{ distinctCount: { dueAt: { greaterThan: "1" } } }`)).toEqual([a]);
  expect(await keys(`{ distinctCount: { dueAt: { equalTo: "1" } } }`)).toEqual([b]);
  expect(await keys(`{ max: { dueAt: { greaterThan: "2026-03-15T00:00:00Z" } } }`)).toEqual([a]);
  expect(await keys(`{ min: { dueAt: { lessThanOrEqualTo: "2026-03-01T00:00:00Z" } } }`)).toEqual([a, b].sort());

  // The example: before, `count(distinct due_at) > '2026-…'::timestamptz` failed in Postgres as INTERNAL.
  const { body } = await run(
    `{ tasks { groupedAggregates(groupBy: [LIST_ID], having: { distinctCount: { dueAt: { greaterThan: "2026-01-01T00:00:00Z" } } }) { keys } } }`,
  );
  expect(body.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
});

it("no longer offers aggregates Postgres does not have for a timestamp (avg, sum, stddev, variance)", async () => {
  const { body } = await run(
    `{ tasks { groupedAggregates(groupBy: [LIST_ID], having: { average: { dueAt: { greaterThan: "2026-01-01T00:00:00Z" } } }) { keys } } }`,
  );
  expect(body.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
  expect(body.errors?.[0]?.message).toMatch(/^Field "average" is not defined/);
});
