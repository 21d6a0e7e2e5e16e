/*
 * schema.graphql is what client code generators read. It is generated
 * (`npm run schema`), never edited by hand, and must match what the API serves.
 */
import { readFileSync } from "node:fs";
import { printApiSchema, SCHEMA_FILE } from "../../scripts/printSchema";
import { testDb } from "../support/env";

it("matches the committed schema.graphql (run `npm run schema` after changing the database)", async () => {
  const served = await printApiSchema(testDb.authUrl);
  expect(served).toEqual(readFileSync(SCHEMA_FILE, "utf8"));
});

it("has the clean names clients rely on and no composite-key leftovers", () => {
  const schema = readFileSync(SCHEMA_FILE, "utf8");
  for (const field of [
    "tasks(",
    "task(rowId",
    "lists(",
    "list(rowId",
    "createTask(",
    "updateTask(",
    "deleteTask(",
    "currentUserId",
  ]) {
    expect(schema).toContain(`  ${field}`);
  }
  expect(schema).not.toMatch(/ByUserId|ByRowIdAndUserId|userList|tasksByUserIdAndListId|ById\(/);
  // userId is readable, never writable.
  const inputs = schema.split(/\n(?=input )/).filter((block) => /^input (Task|List)(Input|Patch) /.test(block));
  expect(inputs).toHaveLength(4);
  for (const input of inputs)
    expect(input).not.toMatch(/\buserId\b|\browId\b|createdAt|updatedAt|completedAt|version/i);
});

it("offers version on both row types and expectedVersion on the four writes that can lose an update", () => {
  const schema = readFileSync(SCHEMA_FILE, "utf8");
  const block = (kind: string, name: string) => schema.split(/\n(?=\S)/).find((b) => b.startsWith(`${kind} ${name} `))!;
  for (const type of ["Task", "List"]) expect(block("type", type)).toMatch(/\n {2}version: Int!$/m);
  for (const input of ["UpdateTaskInput", "DeleteTaskInput", "UpdateListInput", "DeleteListInput"]) {
    expect(block("input", input)).toMatch(/\n {2}expectedVersion: Int$/m);
  }
  // A version is sent back, never searched, sorted or summed.
  expect(schema).not.toMatch(/VERSION_(ASC|DESC)|\n {2}version: (Int|Big\w+)Filter/);
});
