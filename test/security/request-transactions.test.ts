/*
 * Each GraphQL operation's transaction (src/db/requestTransactions.ts) opens and
 * sets the caller's identity in one simple-protocol message, with the values
 * quoted rather than bound. These tests hold it to what the stock adaptor
 * guaranteed: settings are transaction-local, values arrive byte for byte, and a
 * failure anywhere leaves a clean connection for the next request.
 */
import fc from "fast-check";
import { Pool, type PoolClient } from "pg";
import { makeRequestWithPgClient } from "../../src/db/requestTransactions";
import { roleNames } from "../../src/db/roles";
import { testDb } from "../support/env";

const roles = roleNames();
let pool: Pool;
/** Every statement text sent on the pool's one connection. */
const sent: string[] = [];

beforeAll(() => {
  // One connection, so each test also proves what the next user of that connection finds.
  pool = new Pool({ connectionString: testDb.authUrl, max: 1 });
  pool.on("connect", (client: PoolClient) => {
    // Stays a wrapper: pg emits no event per statement, and the statement texts are what these tests check.
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: typeof query }).query = (...args: unknown[]) => {
      const first = args[0];
      sent.push(typeof first === "string" ? first : String((first as { text?: string }).text));
      return query(...args);
    };
  });
});
afterAll(() => pool.end());
beforeEach(() => (sent.length = 0));

const withPgClient = () => makeRequestWithPgClient(pool);
const IDENTITY = "select current_user as role, current_setting('request.jwt.claims', true) as claims";

/** What a connection reports when nobody has set anything on it. */
async function bareIdentity() {
  const { rows } = await pool.query<{ role: string; claims: string | null }>(IDENTITY);
  return rows[0];
}

it("sets the identity in the same round trip as begin, so a read costs three statements", async () => {
  const claims = JSON.stringify({ sub: "alice" });

  const rows = await withPgClient()({ role: roles.user, "request.jwt.claims": claims }, async (client) => {
    const { rows } = await client.query<{ role: string; claims: string }>({ text: IDENTITY });
    return rows;
  });

  expect(rows).toEqual([{ role: roles.user, claims }]);
  expect(sent).toHaveLength(3);
  expect(sent[0]).toMatch(/^begin; select set_config\(/);
  expect(sent[2]).toBe("commit");
});

it("delivers any claims text byte for byte (property)", async () => {
  const text = fc.string({ unit: fc.constantFrom("'", "\\", '"', "a", "$", ";", "-", "\n", "\u00e9", "\u{1F600}") });
  await fc.assert(
    fc.asyncProperty(text, async (value) => {
      const claims = JSON.stringify({ sub: value });
      const rows = await withPgClient()({ role: roles.user, "request.jwt.claims": claims }, async (client) => {
        const { rows } = await client.query<{ role: string; claims: string }>({ text: IDENTITY });
        return rows;
      });
      expect(rows).toEqual([{ role: roles.user, claims }]);
    }),
    { numRuns: 200 },
  );
});

it("keeps the settings transaction-local: the connection's next user starts with no identity", async () => {
  await withPgClient()({ role: roles.user, "request.jwt.claims": JSON.stringify({ sub: "alice" }) }, (client) =>
    client.query({ text: "select 1" }),
  );

  expect(await bareIdentity()).toEqual({ role: roles.authenticator, claims: "" });
});

it("delivers claims containing quotes, backslashes and SQL byte for byte", async () => {
  const hostile = `x'); select set_config('role', 'postgres', false); --\\' \\\\ " $$ \u00e9 \u{1F600}`;
  const claims = JSON.stringify({ sub: hostile, nested: { quote: "'", backslash: "\\" } });

  const rows = await withPgClient()({ role: roles.user, "request.jwt.claims": claims }, async (client) => {
    const { rows } = await client.query<{ role: string; claims: string }>({ text: IDENTITY });
    return rows;
  });

  expect(rows).toEqual([{ role: roles.user, claims }]);
  expect(JSON.parse(rows[0]!.claims).sub).toBe(hostile);
  expect(await bareIdentity()).toEqual({ role: roles.authenticator, claims: "" });
});

it("rolls back a failing operation and leaves the connection clean for the next request", async () => {
  const failing = withPgClient()({ role: roles.user, "request.jwt.claims": "{}" }, (client) =>
    client.query({ text: "select 1 / 0" }),
  );
  await expect(failing).rejects.toMatchObject({ code: "22012" });

  expect(sent.slice(-1)).toEqual(["rollback"]);
  expect(await bareIdentity()).toEqual({ role: roles.authenticator, claims: "" });
});

it("leaves no aborted transaction behind when the settings themselves fail", async () => {
  const failing = withPgClient()({ role: "no_such_role" }, (client) => client.query({ text: "select 1" }));
  await expect(failing).rejects.toMatchObject({ code: "22023" });

  // The next request on the same connection runs normally, with no identity left over.
  expect(await bareIdentity()).toEqual({ role: roles.authenticator, claims: "" });
  expect(pool.totalCount).toBe(1);
});
