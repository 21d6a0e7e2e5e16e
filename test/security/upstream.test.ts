/*
 * Every pattern in src/errors/upstream.ts against the text its library produces
 * today: each library is made to fail for real (graphql-js, graphql-armor,
 * PostGraphile against the test database, pg and pg-pool against servers that
 * misbehave, PgSubscriber, @grafserv/persisted, jose, body-parser), and the
 * pattern must still match. A dependency upgrade that rewords one fails here, not
 * in production as an unexplained INTERNAL.
 */
import { createHmac } from "node:crypto";
import { EventEmitter } from "node:events";
import { createServer, type Server } from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import { PersistedPlugin } from "@grafserv/persisted";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import express from "express";
import { jwtVerify } from "jose";
import { Client, Pool } from "pg";
import { postgraphile } from "postgraphile";
import { makePgService, PgSubscriber } from "postgraphile/adaptors/pg";
import { grafast } from "postgraphile/grafast";
import { buildSchema, graphql, GraphQLError, parse, validate, type ValidationRule } from "postgraphile/graphql";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";
import { UPSTREAM, type UpstreamText } from "../../src/errors/upstream";
import { NamingPreset } from "../../src/graphql/naming";
import { testDb } from "../support/env";

/** Which entries this file pins; the last test checks none was forgotten. */
const pinned = new Set<string>();

function expectMatch(name: keyof typeof UPSTREAM, text: string | undefined): void {
  const entry: UpstreamText = UPSTREAM[name];
  pinned.add(name);
  if (!entry.pattern.test(text ?? "")) {
    throw new Error(
      `${entry.library} no longer says what UPSTREAM.${name} (${entry.pattern}) expects; it said: ${text}`,
    );
  }
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

describe("graphql-js", () => {
  const schema = buildSchema(`type Query { double(n: Int!): Int, title: String }`);

  it("names the request's own variable when it does not coerce", async () => {
    const result = await graphql({
      schema,
      source: `query ($n: Int!) { double(n: $n) }`,
      variableValues: { n: "two" },
    });
    expectMatch("variableCoercion", result.errors?.[0]?.message);
  });

  it.each([
    ["more than maxErrors errors", `{ ${Array.from({ length: 5 }, (_, i) => `x${i}`).join(" ")} }`, { maxErrors: 2 }],
    ["a document whose fields are too many to compare", `{ title ${"__typename ".repeat(9000)}}`, {}],
  ])("gives up validating %s with a message ending 'Validation aborted.'", (_name, source, options) => {
    const errors = validate(schema, parse(source), undefined, options);
    expectMatch("validationAborted", errors.at(-1)?.message);
  });

  it("ends an unknown field's message with a hint that the masker can cut off whole", () => {
    const [error] = validate(schema, parse(`{ titel }`));
    expectMatch("didYouMean", error?.message);
    expect(error!.message.replace(UPSTREAM.didYouMean.pattern, "")).toBe(`Cannot query field "titel" on type "Query".`);
  });
});

describe("graphql-armor", () => {
  const schema = buildSchema(`type Query { a: Query, b: Int }`);
  const rejected: string[] = [];
  const options = {
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [(_context: unknown, error: GraphQLError) => void rejected.push(error.message)],
  };
  it.each<[string, ValidationRule]>([
    ["max-depth", maxDepthRule({ ...options, n: 1 })],
    ["max-aliases", maxAliasesRule({ ...options, n: 0 })],
    ["max-directives", maxDirectivesRule({ ...options, n: 0 })],
  ])("%s dresses its refusal as a syntax error", (_name, rule) => {
    rejected.length = 0;
    validate(schema, parse(`{ x: a @include(if: true) { a { a { b } } } }`), [rule]);
    expect(rejected).toHaveLength(1);
    expectMatch("armorSyntaxPrefix", rejected[0]);
  });
});

describe("PostGraphile against the test database", () => {
  // The generated API without our plugins, so its own errors come through unchanged.
  const pool = new Pool({ connectionString: testDb.superuserUrl, max: 2 });
  const pgl = postgraphile({
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, PostGraphileConnectionFilterPreset, NamingPreset],
    pgServices: [makePgService({ pool, pubsub: false, schemas: ["app_public"] })],
  });
  afterAll(async () => {
    await pgl.release();
    await pool.end();
  });

  async function errorsOf(source: string): Promise<readonly GraphQLError[]> {
    const { schema, resolvedPreset } = await pgl.getSchemaResult();
    const result = await grafast({ schema, source, resolvedPreset, requestContext: {} });
    return (result as { errors?: readonly GraphQLError[] }).errors ?? [];
  }

  it("@dataplan/pg fails a delete that matched no row", async () => {
    const [error] = await errorsOf(
      `mutation { deleteTask(input: { rowId: "00000000-0000-4000-8000-000000000000" }) { task { rowId } } }`,
    );
    expectMatch("nothingDeleted", error?.originalError?.message);
  });

  it.each([`{ title: {} }`, `{ title: null }`])(
    "connection-filter refuses the filter %s with a plain Error",
    async (filter) => {
      const [error] = await errorsOf(`{ tasks(filter: ${filter}) { totalCount } }`);
      expectMatch("filterInput", error?.originalError?.message);
    },
  );
});

describe("pg and pg-pool", () => {
  const servers: net.Server[] = [];
  /** A TCP server that does `onSocket` with every connection instead of speaking Postgres. */
  async function fakePostgres(onSocket: (socket: net.Socket) => void): Promise<number> {
    const server = net.createServer(onSocket);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  }
  const sockets: net.Socket[] = [];
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it("pg: the server hangs up while connecting", async () => {
    const port = await fakePostgres((socket) => socket.destroy());
    const client = new Client({ host: "127.0.0.1", port, user: "probe", database: "probe" });
    expectMatch("connectionTerminated", (await failureOf(client.connect())).message);
  });

  it("pg-pool: a new connection does not answer within connectionTimeoutMillis", async () => {
    const port = await fakePostgres((socket) => sockets.push(socket)); // accepts, never answers
    const pool = new Pool({ host: "127.0.0.1", port, user: "probe", database: "probe", connectionTimeoutMillis: 100 });
    try {
      expectMatch("connectionTerminated", (await failureOf(pool.connect())).message);
    } finally {
      await pool.end();
    }
  });

  it("pg-pool: no connection comes free within connectionTimeoutMillis", async () => {
    // Long enough for the first, real connection on a loaded machine; the second waits all of it.
    const pool = new Pool({ connectionString: testDb.authUrl, max: 1, connectionTimeoutMillis: 2000 });
    const held = await pool.connect();
    try {
      expectMatch("poolWaitTimeout", (await failureOf(pool.connect())).message);
    } finally {
      held.release();
      await pool.end();
    }
  });

  it("pg: a query on a client whose connection was terminated", async () => {
    const client = new Client({ connectionString: testDb.authUrl });
    const admin = new Client({ connectionString: testDb.superuserUrl });
    await Promise.all([client.connect(), admin.connect()]);
    try {
      // It reports the termination, then the closed socket: both are heard.
      const lost = new Promise((resolve) => client.on("error", resolve));
      const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
      await admin.query("select pg_terminate_backend($1)", [rows[0]!.pid]);
      await lost;
      expectMatch("clientBroken", (await failureOf(client.query("select 1"))).message);
    } finally {
      await admin.end();
      await client.end().catch(() => {}); // already broken
    }
  });
});

it("PgSubscriber ends its subscriptions when the LISTEN connection fails", async () => {
  let listening!: () => void;
  const listened = new Promise<void>((resolve) => (listening = resolve));
  const client = Object.assign(new EventEmitter(), {
    escapeIdentifier: (name: string) => `"${name}"`,
    query: async (text: string) => {
      if (text.startsWith("LISTEN")) listening();
      return { rows: [] };
    },
    release: () => {},
  });
  const subscriber = new PgSubscriber({ connect: async () => client } as unknown as Pool);
  const logged = jest.spyOn(console, "error").mockImplementation(() => {}); // PgSubscriber reports the failure itself
  try {
    const next = subscriber.subscribe("probe").next();
    await listened;
    await new Promise((resolve) => setImmediate(resolve)); // PgSubscriber starts hearing errors once LISTEN returned
    client.emit("error", new Error("terminating connection due to administrator command"));
    expectMatch("listenLost", (await failureOf(next)).message);
  } finally {
    subscriber.release();
    logged.mockRestore();
  }
});

it("@grafserv/persisted refuses a request that is not an approved document", async () => {
  const event = {
    resolvedPreset: { grafserv: { persistedOperations: {}, allowUnpersistedOperation: false } },
    body: { query: "{ __typename }" },
  };
  const middleware = PersistedPlugin.grafserv!.middleware!.processGraphQLRequestBody as (
    next: () => void,
    event: unknown,
  ) => unknown;
  const logged = jest.spyOn(console, "error").mockImplementation(() => {}); // it reports what it could not find
  try {
    const refusal = await failureOf(Promise.resolve().then(() => middleware(() => {}, event)));
    expectMatch("persistedRefusal", refusal.message);
  } finally {
    logged.mockRestore();
  }
});

it("jose refuses a critical header parameter it does not know", async () => {
  const key = Buffer.from("upstream-probe-secret-upstream-probe");
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${b64({ alg: "HS256", crit: ["probe"], probe: 1 })}.${b64({ sub: "probe" })}`;
  const token = `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
  expectMatch("unknownCritHeader", (await failureOf(jwtVerify(token, key))).message);
});

describe("body-parser (express.json)", () => {
  let server: Server;
  let url: string;
  const types: Array<string | undefined> = [];
  beforeAll(async () => {
    const app = express();
    app.use(express.json({ limit: 10 }), (_req: express.Request, res: express.Response) => res.end());
    app.use(
      (error: Error & { type?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        types.push(error.type);
        res.status(400).end();
      },
    );
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  it("types a body over the limit", async () => {
    types.length = 0;
    await post(JSON.stringify({ query: "x".repeat(100) }));
    expectMatch("bodyTooLarge", types[0]);
  });

  it("types a charset it will not decode", async () => {
    types.length = 0;
    await post("{}", { "content-type": "application/json; charset=latin1" });
    expectMatch("bodyCharset", types[0]);
  });

  it("types a Content-Encoding it cannot decompress", async () => {
    types.length = 0;
    await post("{}", { "content-encoding": "bogus" });
    expectMatch("bodyEncoding", types[0]);
  });

  it("types a body that is not JSON", async () => {
    types.length = 0;
    await post("{");
    expectMatch("bodyNotJson", types[0]);
  });
});

it("has provoked every entry of the table (this test runs last)", () => {
  expect([...pinned].sort()).toEqual(Object.keys(UPSTREAM).sort());
});
