/*
 * Every client mistake the issue found answered as INTERNAL, or with no code at all,
 * sent as is: each is now a 4xx (or, for an error inside GraphQL with
 * `Accept: application/json`, a 200) with a catalogue code, and is logged as the
 * request's info line only — never at error level, which pages the operator.
 * Then the HTTP status for each Accept header, as docs/errors.md states it.
 */
import { gzipSync } from "node:zlib";
import { fallbacks } from "../../src/http/fallbacks";
import { makeLogger } from "../../src/logger";
import { startApi, type TestApi } from "../support/api";
import { newUser } from "../support/tokens";

let api: TestApi;
let token: string;
beforeAll(async () => {
  api = await startApi({ production: true });
  ({ token } = await newUser("mistakes"));
});
afterAll(() => api.close());

async function post(body: string | Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      ...headers,
    },
    body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as Record<string, any> };
}

const json = (body: Record<string, unknown>) => JSON.stringify(body);
const query = (text: string) => json({ query: text });

const cases: Array<[string, () => ReturnType<typeof post>, number, string, string | null]> = [
  [
    "Content-Type: application/json; charset=latin1",
    () => post(query("{ currentUserId }"), { "content-type": "application/json; charset=latin1" }),
    415,
    "BAD_USER_INPUT",
    null,
  ],
  [
    "Content-Encoding: bogus",
    () => post(query("{ currentUserId }"), { "content-encoding": "bogus" }),
    415,
    "BAD_USER_INPUT",
    null,
  ],
  [
    "Content-Encoding: gzip on a body that is not compressed",
    () => post(query("{ currentUserId }"), { "content-encoding": "gzip" }),
    400,
    "BAD_USER_INPUT",
    null,
  ],
  [
    "Content-Encoding: deflate on a body that is not compressed",
    () => post(query("{ currentUserId }"), { "content-encoding": "deflate" }),
    400,
    "BAD_USER_INPUT",
    null,
  ],
  ["an invalid UUID literal", () => post(query(`{ task(rowId: "nope") { title } }`)), 400, "BAD_USER_INPUT", null],
  [
    "3,000 nested [",
    () =>
      post(query(`{ tasks(filter: { tags: { contains: ${"[".repeat(3000)}${"]".repeat(3000)} } }) { totalCount } }`)),
    400,
    "LIMIT_EXCEEDED",
    "depth",
  ],
  [
    "3,000 nested {and:[",
    () => post(query(`{ tasks(filter: ${"{and:[".repeat(3000)}{}${"]}".repeat(3000)}) { totalCount } }`)),
    400,
    "LIMIT_EXCEEDED",
    "depth",
  ],
  [
    "9,000 __typename (validation aborted)",
    () => post(query(`{ currentUserId ${"__typename ".repeat(9000)}}`)),
    400,
    "LIMIT_EXCEEDED",
    "validation",
  ],
  [
    "a text/plain body",
    () => post(query("{ currentUserId }"), { "content-type": "text/plain" }),
    415,
    "BAD_USER_INPUT",
    null,
  ],
  [
    "a Datetime variable that is an object whose toString is a string (the scalar throws a TypeError)",
    () =>
      post(
        json({
          query: "query ($d: Datetime) { tasks(filter: { dueAt: { lessThan: $d } }) { totalCount } }",
          variables: { d: { toString: "x" } },
        }),
      ),
    400,
    "BAD_USER_INPUT",
    null,
  ],
  ['{"query":123}', () => post(json({ query: 123 })), 400, "BAD_USER_INPUT", null],
  [
    "variables that are not an object",
    () => post(json({ query: "{ currentUserId }", variables: [1] })),
    400,
    "BAD_USER_INPUT",
    null,
  ],
  [
    "extensions that are not an object",
    () => post(json({ query: "{ currentUserId }", extensions: "x" })),
    400,
    "BAD_USER_INPUT",
    null,
  ],
  [
    "an operationName that is not a string",
    () => post(json({ query: "{ currentUserId }", operationName: 5 })),
    400,
    "BAD_USER_INPUT",
    null,
  ],
  [
    "an Accept it cannot serve",
    () => post(query("{ currentUserId }"), { accept: "text/html" }),
    406,
    "BAD_USER_INPUT",
    null,
  ],
];

it.each(cases)(
  "answers %s with a 4xx and a catalogue code, logged at info",
  async (_name, send, status, code, limit) => {
    const logged = api.logs.length;
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.body.errors.length).toBeGreaterThan(0);
    for (const error of response.body.errors) {
      expect(error.extensions.code).toMatch(/^(BAD_USER_INPUT|LIMIT_EXCEEDED)$/);
      expect(error.extensions).not.toHaveProperty("statusCode");
    }
    expect(response.body.errors.map((e: any) => e.extensions.code)).toContain(code);
    if (limit) expect(response.body.errors.map((e: any) => e.extensions.limit)).toContain(limit);
    const lines = api.logs.slice(logged);
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    const request = lines.find((line) => line.msg === "request");
    expect(request).toMatchObject({ level: 30, status });
    expect(request!.errors.map((e: any) => e.code)).toContain(code);
  },
);

it("still reads a body that is compressed as it says", async () => {
  const body = gzipSync(Buffer.from(query("{ currentUserId }")));
  const response = await post(body, { "content-encoding": "gzip" });
  expect(response.status).toBe(200);
  expect(response.body.data.currentUserId).toMatch(/^mistakes-/);
});

it("refuses brackets nested past the limit before parsing, and parses them at the limit", async () => {
  // `{ tasks(` and the innermost `{title:{` are 4; 62 `{and:[` make 128 at the deepest point.
  const filter = (n: number) => `${"{and:[".repeat(n)}{title:{equalTo:"x"}}${"]}".repeat(n)}`;
  const atLimit = await post(query(`{ tasks(filter: ${filter(62)}) { totalCount } }`));
  expect(atLimit.body).toEqual({ data: { tasks: { totalCount: 0 } } });
  const over = await post(query(`{ tasks(filter: ${filter(63)}) { totalCount } }`));
  expect(over.status).toBe(400);
  expect(over.body.errors[0].extensions).toEqual({ code: "LIMIT_EXCEEDED", limit: "depth" });
});

describe("the HTTP status for each Accept header (docs/errors.md)", () => {
  const INVALID = "{ nope }"; // fails validation: no `data`
  const EXECUTED = "{ currentUserId tasks(filter: { title: {} }) { totalCount } }"; // fails in execution: `data`
  const spec = "application/graphql-response+json;charset=utf-8";
  const legacy = "application/json;charset=utf-8";
  it.each<[string, string, number, number]>([
    ["*/*", spec, 400, 200],
    ["application/*", spec, 400, 200],
    ["application/graphql-response+json", spec, 400, 200],
    ["application/json", legacy, 200, 200],
    ["application/json, application/graphql-response+json", spec, 400, 200],
    ["application/graphql-response+json;q=0.5, application/json", legacy, 200, 200],
  ])("Accept: %s → %s, %i without data, %i with data", async (accept, contentType, invalid, executed) => {
    const send = (text: string) =>
      fetch(`${api.url}/graphql`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept },
        body: query(text),
      });
    const bad = await send(INVALID);
    expect([bad.status, bad.headers.get("content-type")]).toEqual([invalid, contentType]);
    expect(((await bad.json()) as any).errors[0].extensions.code).toBe("BAD_USER_INPUT");
    const partial = await send(EXECUTED);
    expect([partial.status, partial.headers.get("content-type")]).toEqual([executed, contentType]);
    const body = (await partial.json()) as any;
    expect(body.data.currentUserId).toMatch(/^mistakes-/);
    expect(body.errors[0].extensions.code).toBe("BAD_USER_INPUT");
  });

  // fetch always sends an Accept (`*/*`); node:http sends none unless told.
  it("with no Accept header at all, answers as for */*", async () => {
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const body = query(INVALID);
      const req = request(
        `${api.url}/graphql`,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(status).toBe(400);
  });

  it("answers 406 to an Accept with neither JSON type", async () => {
    const response = await post(query("{ currentUserId }"), { accept: "text/plain" });
    expect(response.status).toBe(406);
    expect(response.body.errors[0].extensions).toEqual({ code: "BAD_USER_INPUT" });
  });
});

describe("the last-resort handler", () => {
  const lines: Array<Record<string, any>> = [];
  const [, handler] = fallbacks(makeLogger({ destination: { write: (line: string) => lines.push(JSON.parse(line)) } }));
  const answer = (error: Error) => {
    const res = { statusCode: 0, body: undefined as unknown, headers: {} as Record<string, string> };
    const fake = {
      setHeader: (name: string, value: string) => (res.headers[name] = value),
      status: (code: number) => ((res.statusCode = code), fake),
      json: (body: unknown) => (res.body = body),
    };
    lines.length = 0;
    (handler as (e: Error, req: unknown, res: unknown, next: unknown) => void)(error, {}, fake, () => {});
    return { ...res, levels: lines.map((line) => line.level) };
  };

  it("answers an error that carries a 4xx status as the client's, logged at warn", () => {
    const result = answer(Object.assign(new Error("URI malformed: /graphql/%ZZ"), { status: 400 }));
    expect(result).toMatchObject({ statusCode: 400, levels: [40] });
    expect(result.body).toEqual({
      errors: [{ message: "the request could not be processed as sent", extensions: { code: "BAD_USER_INPUT" } }],
    });
  });

  it("answers anything else as INTERNAL, logged at error", () => {
    const result = answer(new TypeError("x is undefined"));
    expect(result).toMatchObject({ statusCode: 500, levels: [50] });
    expect(JSON.stringify(result.body)).not.toContain("undefined");
  });
});
