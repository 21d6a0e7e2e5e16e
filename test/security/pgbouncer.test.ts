/*
 * The same through PgBouncer in transaction pooling mode, the deployment that
 * Neon's pooled endpoint and most managed Postgres use: many API connections share
 * two server connections, so any identity set at session level would leak.
 *
 * PgBouncer before 1.21 (Debian 12 ships 1.18) cannot carry named prepared
 * statements across transactions, and PostGraphile prepares its queries; the
 * engine's DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE=0 turns that off. It is read
 * once when @dataplan/pg loads, hence this import before any other.
 */
import "./withoutPreparedStatements";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { PGBOUNCER, startPgBouncer, type PgBouncer } from "../support/pgbouncer";
import { newUser } from "../support/tokens";
import { expectNoClaimsCarryOver } from "./sharedConnections";

// CI installs pgbouncer and must run this; elsewhere a missing pgbouncer is reported, not failed.
const describeWithPgBouncer = PGBOUNCER || process.env.CI ? describe : describe.skip;
if (!PGBOUNCER && !process.env.CI) process.stderr.write("pgbouncer is not installed: skipping the PgBouncer tests\n");

describeWithPgBouncer("through PgBouncer (transaction mode)", () => {
  let bouncer: PgBouncer;
  let api: TestApi;

  beforeAll(async () => {
    const auth = new URL(testDb.authUrl);
    bouncer = await startPgBouncer(testDb.authUrl, [
      { user: decodeURIComponent(auth.username), password: decodeURIComponent(auth.password) },
    ]);
    api = await startApi({
      authUrl: bouncer.through(testDb.authUrl),
      // LISTEN is session state: as LISTEN_DATABASE_URL does in production, it bypasses the pooler.
      listenUrl: testDb.authUrl,
      poolSize: 8,
    });
  });
  afterAll(async () => {
    await api?.close();
    await bouncer?.stop();
  });

  it("serves every user only their own data and leaves no claims on the server connections", async () => {
    await expectNoClaimsCarryOver(api);
  });

  it("rolls back a failed mutation and keeps serving aggregates", async () => {
    const { token } = await newUser("dora");
    const bad = await api.graphql(
      `mutation { createTask(input: { task: { title: " " } }) { task { rowId } } }`,
      {},
      { token },
    );
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ code: "VALIDATION_FAILED", field: "title" });
    await api.graphql(
      `mutation { createTask(input: { task: { title: "ok", priority: HIGH } }) { task { rowId } } }`,
      {},
      { token },
    );
    const { body } = await api.graphql(
      `{ tasks { groupedAggregates(groupBy: PRIORITY) { keys distinctCount { rowId } } } }`,
      {},
      { token },
    );
    expect(body.data).toEqual({ tasks: { groupedAggregates: [{ keys: ["high"], distinctCount: { rowId: "1" } }] } });
  });
});
