/*
 * Property-based: whatever a client sends over HTTP — any Content-Type, charset and
 * Content-Encoding (compressed as it says, or not), malformed JSON, a body whose
 * `query`, `variables`, `operationName` or `extensions` has any JSON type, documents
 * nested or repeated far past the limits, huge literals, and an invalid literal and an
 * invalid variable for every input scalar and enum in the schema — the answer is the
 * client's error: every error has a catalogue code and none is INTERNAL; the status is
 * 4xx, or 200 for errors inside GraphQL as docs/errors.md's Accept rule says; nothing
 * is logged at error level. Runs are few (FUZZ_HTTP_RUNS, default 60 per property)
 * and replay from FUZZ_SEED.
 */
import { readFileSync } from "node:fs";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLOutputType,
  type GraphQLArgument,
  type GraphQLInputField,
  type GraphQLNamedType,
} from "postgraphile/graphql";
import { SCHEMA_FILE } from "../../scripts/printSchema";
import { startApi, type TestApi } from "../support/api";
import { newUser } from "../support/tokens";

const RUNS = Number(process.env.FUZZ_HTTP_RUNS || 60);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const CODES = /^(UNAUTHENTICATED|FORBIDDEN|NOT_FOUND|VALIDATION_FAILED|CONFLICT|BAD_USER_INPUT|LIMIT_EXCEEDED)$/;

let api: TestApi;
let token: string;
beforeAll(async () => {
  api = await startApi({ production: true });
  ({ token } = await newUser("http-fuzz"));
});
afterAll(() => api.close());
let checked = 0;
afterEach(() => {
  // A client mistake must never page the operator.
  const lines = api.logs.slice(checked);
  checked = api.logs.length;
  expect(lines.filter((line) => line.level >= 50)).toEqual([]);
});

interface Sent {
  contentType?: string;
  encoding?: string;
  accept: string;
  body: Buffer;
}

async function send({ contentType, encoding, accept, body }: Sent) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept };
  if (contentType !== undefined) headers["content-type"] = contentType;
  if (encoding !== undefined) headers["content-encoding"] = encoding;
  const response = await fetch(`${api.url}/graphql`, { method: "POST", headers, body });
  const text = await response.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { unparsable: text.slice(0, 200) };
  }
  return { status: response.status, body: parsed };
}

/** The property: an answer a client can act on, never a server fault. */
function expectClientAnswer(sent: Sent, { status, body }: { status: number; body: any }): void {
  const context = { status, body: JSON.stringify(body).slice(0, 500), accept: sent.accept };
  expect({ ...context, fault: status >= 500 }).toEqual({ ...context, fault: false });
  expect({ ...context, parsed: body.unparsable === undefined }).toEqual({ ...context, parsed: true });
  if (status === 200 && !body.errors) {
    expect(body.data).toBeDefined();
    return;
  }
  expect(Array.isArray(body.errors) && body.errors.length > 0).toBe(true);
  for (const error of body.errors) {
    expect({ ...context, code: error.extensions?.code }).toEqual({ ...context, code: expect.stringMatching(CODES) });
    expect(error.extensions).not.toHaveProperty("statusCode");
  }
  const legacy = sent.accept === "application/json";
  if (body.data !== undefined) expect(status).toBe(200);
  else if (!legacy) expect({ ...context, clientStatus: status >= 400 }).toEqual({ ...context, clientStatus: true });
}

const acceptArb = fc.constantFrom("application/json", "application/graphql-response+json", "*/*");
const VALID = JSON.stringify({ query: "{ currentUserId }" });

describe("HTTP-level inputs", () => {
  const mediaTypeArb = fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/graphql",
      "application/graphql-response+json",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/xml",
      "",
    ),
    fc.string({ maxLength: 30 }).filter((s) => /^[\x21-\x7e]*$/.test(s)),
  );
  const charsetArb = fc.option(
    fc.constantFrom("utf-8", "UTF-8", "utf-16", "utf-16le", "latin1", "iso-8859-1", "us-ascii", "bogus", "utf-7"),
    { nil: undefined },
  );
  const contentTypeArb = fc.option(
    fc.tuple(mediaTypeArb, charsetArb).map(([type, charset]) => (charset ? `${type}; charset=${charset}` : type)),
    { nil: undefined },
  );
  const encodingArb = fc.option(
    fc.constantFrom("identity", "gzip", "deflate", "br", "bogus", "gzip, deflate", "x-gzip"),
    {
      nil: undefined,
    },
  );

  /** A body: valid, malformed JSON, or a JSON object whose GraphQL keys have any JSON type. */
  const wrongTypeArb = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant([]), fc.constant(1), fc.constant(null));
  const documentArb = fc.oneof(
    fc.constant("{ currentUserId }"),
    fc.string({ maxLength: 40 }),
    fc
      .nat({ max: 4000 })
      .map((n) => `{ tasks(filter: { tags: { contains: ${"[".repeat(n)}${"]".repeat(n)} } }) { totalCount } }`),
    fc.nat({ max: 4000 }).map((n) => `{ tasks(filter: ${"{and:[".repeat(n)}{}${"]}".repeat(n)}) { totalCount } }`),
    fc.nat({ max: 9000 }).map((n) => `{ currentUserId ${"__typename ".repeat(n)}}`),
    fc.nat({ max: 200 }).map((n) => `{ ${"tasks { nodes { list { ".repeat(n)}name${" } } }".repeat(n)} }`),
    fc.nat({ max: 60_000 }).map((n) => `{ tasks(filter: { title: { equalTo: "${"x".repeat(n)}" } }) { totalCount } }`),
    fc.nat({ max: 2000 }).map((n) => `{ tasks(first: ${"9".repeat(n + 1)}) { totalCount } }`),
  );
  const jsonBodyArb = fc
    .record(
      {
        query: fc.oneof(documentArb, wrongTypeArb),
        variables: fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })), wrongTypeArb),
        operationName: fc.oneof(fc.string({ maxLength: 10 }), wrongTypeArb),
        extensions: fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })), wrongTypeArb),
      },
      { requiredKeys: [] },
    )
    .map((body) => JSON.stringify(body));
  const textArb = fc.oneof(
    jsonBodyArb,
    fc.constant(VALID),
    fc.string({ maxLength: 60 }),
    fc.nat({ max: VALID.length - 1 }).map((n) => VALID.slice(0, n)), // truncated
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.nat({ max: 50_000 }).map((n) => "[".repeat(n)), // deep JSON
  );
  const COMPRESS: Record<string, (b: Buffer) => Buffer> = {
    gzip: gzipSync,
    deflate: deflateSync,
    br: brotliCompressSync,
  };

  it("answers every combination as the client's error or a success", async () => {
    await fc.assert(
      fc.asyncProperty(
        contentTypeArb,
        encodingArb,
        fc.boolean(),
        acceptArb,
        textArb,
        async (contentType, encoding, compress, accept, text) => {
          let body: Buffer = Buffer.from(text, "utf8");
          if (compress && encoding && COMPRESS[encoding]) body = COMPRESS[encoding](body);
          const sent = { contentType, encoding, accept, body };
          expectClientAnswer(sent, await send(sent));
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  });
});

describe("every input scalar and enum of the schema", () => {
  const schema = buildSchema(readFileSync(SCHEMA_FILE, "utf8"));
  /** For each named input type, one read-only place that takes it: a document around a hole. */
  const places = new Map<string, { wrap: (value: string) => string; position: string }>();
  {
    // Breadth-first from Query's arguments into input objects, so each type gets its shallowest place.
    type Step = { path: (inner: string) => string; field: GraphQLArgument | GraphQLInputField };
    let steps: Step[] = [];
    // A selection that makes the value reach SQL (`__typename` alone would not run a query).
    const selectionOf = (type: GraphQLOutputType) => {
      const named = getNamedType(type);
      if (isLeafType(named)) return "";
      const fields = isObjectType(named) ? named.getFields() : {};
      const leaf = ["totalCount", "keys", "rowId"].find((name) => name in fields);
      return ` { ${leaf ?? "__typename"} }`;
    };
    for (const [name, field] of Object.entries(schema.getQueryType()!.getFields())) {
      for (const arg of field.args) {
        steps.push({ path: (inner) => `{ ${name}(${arg.name}: ${inner})${selectionOf(field.type)} }`, field: arg });
      }
      // And one level down: a connection's own fields (groupedAggregates(groupBy:, having:)).
      const returned = getNamedType(field.type);
      if (!isObjectType(returned) || field.args.some((arg) => isNonNullType(arg.type))) continue;
      for (const [innerName, inner] of Object.entries(returned.getFields())) {
        for (const arg of inner.args) {
          steps.push({
            path: (value) => `{ ${name} { ${innerName}(${arg.name}: ${value})${selectionOf(inner.type)} } }`,
            field: arg,
          });
        }
      }
    }
    const seen = new Set<string>();
    while (steps.length) {
      const next: Step[] = [];
      for (const { path, field } of steps) {
        const type: GraphQLNamedType = getNamedType(field.type);
        if (!places.has(type.name)) places.set(type.name, { wrap: path, position: String(field.type) });
        if (isInputObjectType(type) && !seen.has(type.name)) {
          seen.add(type.name);
          for (const inner of Object.values(type.getFields())) {
            next.push({ path: (value) => path(`{ ${inner.name}: ${value} }`), field: inner });
          }
        }
      }
      steps = next;
    }
  }
  const inputLeaves = Object.values(schema.getTypeMap()).filter(
    (type) => (isScalarType(type) || isEnumType(type)) && !type.name.startsWith("__") && places.has(type.name),
  );

  it("reaches every scalar and enum that inputs take", () => {
    // From Query alone: the mutations' inputs use the same types (TaskInput: Datetime, Tag, UUID, TaskPriority …).
    // A new one fails here until it has an invalid value below.
    expect(inputLeaves.map((t) => t.name).sort()).toEqual(
      [
        "BigInt",
        "Boolean",
        "Cursor",
        "Datetime",
        "ID",
        "Int",
        "String",
        "Tag",
        "TaskGroupBy",
        "ListGroupBy",
        "TaskOrderBy",
        "ListOrderBy",
        "TaskPriority",
        "UUID",
      ].sort(),
    );
  });

  /** A value that is invalid for the type, as a literal and as a variable. */
  const INVALID: Record<string, [literal: string, variable: unknown]> = {
    BigInt: [`"twelve"`, "twelve"],
    Boolean: [`"yes"`, "yes"],
    Cursor: [`"not a cursor"`, "not a cursor"],
    // Not "yesterday": Postgres reads that one as a timestamp.
    Datetime: [`"the day before"`, "the day before"],
    ID: ["{ id: 1 }", { id: 1 }],
    Int: [`"1"`, 1.5],
    String: ["12", 12],
    Tag: ["12", { tag: 1 }],
    UUID: [`"nope"`, "nope"],
  };
  const invalidFor = (name: string): [string, unknown] => INVALID[name] ?? ["NOT_A_VALUE", "NOT_A_VALUE"];

  it.each(inputLeaves.map((t) => [t.name]))(
    "refuses an invalid %s literal and variable as BAD_USER_INPUT",
    async (name) => {
      const { wrap, position } = places.get(name)!;
      const [literal, variable] = invalidFor(name);
      for (const [query, variables] of [
        [wrap(literal), {}],
        [`query ($v: ${position}) ${wrap("$v")}`, { v: variable }],
      ] as const) {
        const sent = {
          contentType: "application/json",
          accept: "*/*",
          body: Buffer.from(JSON.stringify({ query, variables })),
        };
        const answer = await send(sent);
        expectClientAnswer(sent, answer);
        expect({ query, codes: answer.body.errors?.map((e: any) => e.extensions.code) }).toEqual({
          query,
          codes: expect.arrayContaining(["BAD_USER_INPUT"]),
        });
      }
    },
  );

  /** GraphQL literals of every kind, valid for some types and not for others. */
  const literalArb: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s)),
      fc.bigInt().map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Number.isInteger(d) ? `${d}.5` : String(d))),
      fc.boolean().map(String),
      fc.constant("null"),
      fc.constantFrom("TITLE_ASC", "NOPE", "LIST_ID", "HIGH", "true_"),
      fc.uuid().map((u) => JSON.stringify(u)),
      fc.date({ noInvalidDate: true }).map((d) => JSON.stringify(d.toISOString())),
      fc.nat({ max: 20_000 }).map((n) => JSON.stringify("9".repeat(n))),
      fc.array(tie("value"), { maxLength: 3 }).map((items) => `[${items.join(", ")}]`),
      fc.dictionary(fc.constantFrom("a", "equalTo", "title", "and"), tie("value"), { maxKeys: 2 }).map(
        (o) =>
          `{ ${Object.entries(o)
            .map(([k, v]) => `${k}: ${v}`)
            .join(", ")} }`,
      ),
    ),
  })).value;

  it("answers any literal or JSON variable in any input position as the client's error or a success", async () => {
    const names = inputLeaves.map((t) => t.name);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...names),
        fc.boolean(),
        literalArb,
        fc.jsonValue({ maxDepth: 3 }),
        acceptArb,
        async (name, asVariable, literal, variable, accept) => {
          const { wrap, position } = places.get(name)!;
          const query = asVariable ? `query ($v: ${position}) ${wrap("$v")}` : wrap(literal);
          const sent = {
            contentType: "application/json",
            accept,
            body: Buffer.from(JSON.stringify({ query, variables: { v: variable } })),
          };
          expectClientAnswer(sent, await send(sent));
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  });
});
