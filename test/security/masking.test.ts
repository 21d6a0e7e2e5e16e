/*
 * The masker, class by class: every SQLSTATE family it maps (and some it does not)
 * turned into the exact public shape, with nothing of the original text left.
 * Classes a client can provoke are also provoked through the API in
 * test/api/errors.test.ts; the rest (a lost database, a unique violation no
 * current input can reach, a serialization failure) are built here as `pg`
 * would deliver them.
 */
import { DatabaseError } from "pg";
import { GraphQLError } from "postgraphile/graphql";
import { ApiError } from "../../src/errors";
import { makeMaskError } from "../../src/errors/mask";
import { makeLogger } from "../../src/logger";
import { startApi } from "../support/api";
import { newUser } from "../support/tokens";

const INTERNAL_TEXT = 'relation "app_private.secrets" at db-7.internal.example, constraint tasks_title_length';

function databaseError(code: string, extra: Partial<DatabaseError> = {}): DatabaseError {
  const error = new DatabaseError(INTERNAL_TEXT, 0, "error");
  return Object.assign(error, { code, severity: "ERROR" }, extra);
}

const logged: Array<Record<string, any>> = [];
const mask = makeMaskError({
  production: true,
  log: makeLogger({ destination: { write: (line: string) => logged.push(JSON.parse(line)) } }),
});
const maskOriginal = (original: Error) =>
  mask(new GraphQLError(original.message, { originalError: original, path: ["createTask"] }));

const cases: Array<[string, Error, Record<string, unknown>]> = [
  [
    "a check violation on a known constraint",
    databaseError("23514", { constraint: "tasks_title_length" }),
    { code: "VALIDATION_FAILED", field: "title" },
  ],
  [
    "a check violation on an unknown constraint",
    databaseError("23514", { constraint: "something_else" }),
    { code: "VALIDATION_FAILED" },
  ],
  [
    "a foreign-key violation",
    databaseError("23503", { constraint: "tasks_list_id_fkey" }),
    { code: "VALIDATION_FAILED", field: "listId" },
  ],
  ["a not-null violation", databaseError("23502", { column: "due_at" }), { code: "VALIDATION_FAILED", field: "dueAt" }],
  ["a unique violation", databaseError("23505", { constraint: "lists_pkey" }), { code: "CONFLICT" }],
  ["an exclusion violation", databaseError("23P01"), { code: "CONFLICT" }],
  ["a serialization failure", databaseError("40001"), { code: "CONFLICT", retryable: true }],
  ["a deadlock", databaseError("40P01"), { code: "CONFLICT", retryable: true }],
  ["insufficient privilege (RLS with check)", databaseError("42501"), { code: "FORBIDDEN" }],
  ["a statement timeout", databaseError("57014"), { code: "TIMEOUT", retryable: true }],
  ["invalid text for a type", databaseError("22P02"), { code: "BAD_USER_INPUT" }],
  ["a value out of range", databaseError("22003"), { code: "BAD_USER_INPUT" }],
  ["a connection failure (08006)", databaseError("08006"), { code: "UNAVAILABLE", retryable: true }],
  ["too many connections (53300)", databaseError("53300"), { code: "UNAVAILABLE", retryable: true }],
  ["an administrator shutdown (57P01)", databaseError("57P01"), { code: "UNAVAILABLE", retryable: true }],
  [
    "a refused TCP connection",
    Object.assign(new Error(`connect ECONNREFUSED 10.1.2.3:5432`), { code: "ECONNREFUSED" }),
    { code: "UNAVAILABLE", retryable: true },
  ],
  ["a dropped connection", new Error("Connection terminated unexpectedly"), { code: "UNAVAILABLE", retryable: true }],
  ["our own not-found", new ApiError("NOT_FOUND", "no task with this id was found"), { code: "NOT_FOUND" }],
  ["an undefined function (not mapped)", databaseError("42883"), { code: "INTERNAL" }],
  ["an internal database error (not mapped)", databaseError("XX000"), { code: "INTERNAL" }],
  [
    "a plain programming error (not mapped)",
    new TypeError(`Cannot read properties of undefined (${INTERNAL_TEXT})`),
    { code: "INTERNAL" },
  ],
];

it.each(cases)("maps %s to its public shape and shows none of the original", (_name, original, expected) => {
  const masked = maskOriginal(original);
  expect(masked.extensions).toMatchObject(expected);
  expect(Object.keys(masked.extensions).sort()).toEqual(
    [...Object.keys(expected), ...(expected.code === "INTERNAL" ? ["errorId"] : [])].sort(),
  );
  expect(JSON.stringify(masked.toJSON())).not.toMatch(
    /app_private|internal\.example|10\.1\.2\.3|tasks_title_length|relation/,
  );
  expect(masked.path).toEqual(["createTask"]);
});

it("uses our own SQLSTATEs' messages, which our SQL writes for clients", () => {
  const raised = Object.assign(new DatabaseError("that list is archived", 0, "error"), {
    code: "TK409",
    severity: "ERROR",
  });
  expect(maskOriginal(raised).toJSON()).toMatchObject({
    message: "that list is archived",
    extensions: { code: "CONFLICT" },
  });
});

it("logs an unmapped error in full under the id it returns", () => {
  const masked = maskOriginal(databaseError("XX000"));
  const entry = logged.find((line) => line.errorId === masked.extensions.errorId);
  expect(entry?.err?.message).toBe(INTERNAL_TEXT);
  expect(masked.message).toContain(String(masked.extensions.errorId));
});

it("answers UNAVAILABLE through the API when the database cannot be reached", async () => {
  const api = await startApi({ production: true });
  try {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.1.2.3:5432"), { code: "ECONNREFUSED" });
    // Fault injection: nothing else makes a healthy pool fail one checkout on demand.
    jest.spyOn(api.pool, "connect").mockImplementationOnce(() => Promise.reject(refused));
    const { token } = await newUser("zed");
    const { body } = await api.graphql(`{ tasks { totalCount } }`, {}, { token });
    expect(body.errors).toEqual([
      expect.objectContaining({
        message: "the database is unavailable; retry shortly",
        extensions: { code: "UNAVAILABLE", retryable: true },
      }),
    ]);
    expect(JSON.stringify(body)).not.toContain("10.1.2.3");
  } finally {
    await api.close();
  }
});

it("keeps UNAVAILABLE for an update or delete that cannot reach the database, rather than NOT_FOUND", async () => {
  const api = await startApi({ production: true });
  try {
    const { token } = await newUser("zoe");
    for (const mutation of [
      `mutation ($id: UUID!) { updateTask(input: { rowId: $id, patch: { title: "x" } }) { task { rowId } } }`,
      `mutation ($id: UUID!) { deleteTask(input: { rowId: $id }) { task { rowId } } }`,
    ]) {
      const refused = Object.assign(new Error("connect ECONNREFUSED 10.1.2.3:5432"), { code: "ECONNREFUSED" });
      jest.spyOn(api.pool, "connect").mockImplementationOnce(() => Promise.reject(refused));
      const { body } = await api.graphql(mutation, { id: "00000000-0000-4000-8000-000000000000" }, { token });
      expect(body.errors?.map((error) => error.extensions)).toEqual([{ code: "UNAVAILABLE", retryable: true }]);
    }
  } finally {
    await api.close();
  }
});

it("does not pass on the bare message of an error grafserv re-wrapped without a position", () => {
  const rewrapped = mask(new GraphQLError(INTERNAL_TEXT));
  expect(rewrapped.extensions).toMatchObject({ code: "INTERNAL", errorId: expect.any(String) });
  expect(rewrapped.message).not.toContain("app_private");
});

describe("errors from parsing and validating the client's document", () => {
  it.each<[string, GraphQLError, Record<string, unknown>]>([
    [
      "a scalar's complaint about a literal, without a position",
      new GraphQLError("Invalid UUID, expected 32 hexadecimal characters, optionally with hyphens"),
      { code: "BAD_USER_INPUT" },
    ],
    [
      "a literal a scalar refused with a plain Error (wrapped by graphql-js)",
      new GraphQLError('Expected value of type "Tag", found 12; not a tag', {
        originalError: new TypeError("not a tag"),
      }),
      { code: "BAD_USER_INPUT" },
    ],
    [
      "a parser out of stack",
      new GraphQLError("Maximum call stack size exceeded", {
        originalError: new RangeError("Maximum call stack size exceeded"),
      }),
      { code: "LIMIT_EXCEEDED", limit: "depth" },
    ],
    [
      "graphql-js giving up validating",
      new GraphQLError("Validation aborted."),
      { code: "LIMIT_EXCEEDED", limit: "validation" },
    ],
  ])("maps %s to the client's code, without logging an error", (_name, error, expected) => {
    const before = logged.length;
    const masked = mask(error, "document");
    expect(masked.extensions).toEqual(expected);
    expect(logged.slice(before).filter((line) => line.level >= 50)).toEqual([]);
  });

  it("still removes the schema hint in production", () => {
    const masked = mask(
      new GraphQLError('Cannot query field "titel" on type "Task". Did you mean "title"?'),
      "document",
    );
    expect(masked.message).toBe('Cannot query field "titel" on type "Task".');
  });

  it("answers the same position-less scalar error as INTERNAL when it comes from execution", () => {
    // Outside the document, an error without position or path is a re-wrapped message: not ours to show.
    expect(mask(new GraphQLError("Invalid UUID")).extensions.code).toBe("INTERNAL");
  });
});
