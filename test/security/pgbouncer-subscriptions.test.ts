/*
 * Live updates behind PgBouncer in transaction mode. LISTEN is session state: a
 * transaction-mode pooler hands the listening server connection to other clients
 * between statements, so the listener gets a direct connection of its own
 * (LISTEN_DATABASE_URL, main.ts's listenPool) while requests go through the pooler.
 */
import "./withoutPreparedStatements";
import type { AddressInfo } from "node:net";
import type { Client as WsClient } from "graphql-ws";
import { makeApp, type App } from "../../src/app";
import { makeTokenVerifier } from "../../src/auth/jwt";
import { loadConfig } from "../../src/config";
import { makePool } from "../../src/db/pool";
import { makeLogger } from "../../src/logger";
import type { GraphQLResponse } from "../support/api";
import { testDb } from "../support/env";
import { Changes, createTask, openSocket, type Endpoint } from "../support/liveUpdates";
import { PGBOUNCER, startPgBouncer, type PgBouncer } from "../support/pgbouncer";
import { newUser, userJwt } from "../support/tokens";

// CI installs pgbouncer and must run this; elsewhere a missing pgbouncer is reported, not failed.
const describeWithPgBouncer = PGBOUNCER || process.env.CI ? describe : describe.skip;
if (!PGBOUNCER && !process.env.CI) process.stderr.write("pgbouncer is not installed: skipping the PgBouncer tests\n");

describeWithPgBouncer("live updates with requests through PgBouncer (transaction mode)", () => {
  const log = makeLogger({ level: "silent" });
  const config = loadConfig({ RATE_LIMIT_USER_PER_MINUTE: "10000000" });
  let bouncer: PgBouncer;
  let app: App;
  let endpoint: Endpoint;
  const pools: Array<{ end(): Promise<void> }> = [];
  const clients: WsClient[] = [];

  beforeAll(async () => {
    const auth = new URL(testDb.authUrl);
    bouncer = await startPgBouncer(testDb.authUrl, [
      { user: decodeURIComponent(auth.username), password: decodeURIComponent(auth.password) },
    ]);
    const pool = makePool(bouncer.through(testDb.authUrl), { size: 8, acquireTimeoutMs: 3000 }, log);
    // What main.ts does with LISTEN_DATABASE_URL: one direct session for LISTEN.
    const listenPool = makePool(testDb.authUrl, { size: 1, acquireTimeoutMs: 3000 }, log);
    pools.push(pool, listenPool);
    app = await makeApp({
      config,
      pool,
      listenPool,
      verifier: makeTokenVerifier(userJwt(), log),
      log,
    });
    await new Promise<void>((resolve) => app.server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    endpoint = {
      url,
      async graphql(query, variables, { token } = {}) {
        const response = await fetch(`${url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ query, variables }),
        });
        return {
          status: response.status,
          headers: response.headers,
          body: (await response.json()) as GraphQLResponse["body"],
        };
      },
    };
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await app?.close();
    await Promise.all(pools.map((pool) => pool.end()));
    await bouncer?.stop();
  });

  it("delivers each user's own changes, and only theirs, from a direct LISTEN connection", async () => {
    const [alice, bob] = await Promise.all([newUser("alice"), newUser("bob")]);
    const [aliceSocket, bobSocket] = [alice, bob].map((u) =>
      openSocket(endpoint, { authorization: `Bearer ${u.token}` }),
    );
    clients.push(aliceSocket!.client, bobSocket!.client);
    const aliceTasks = new Changes(aliceSocket!.client, "taskChanged", endpoint);
    const bobTasks = new Changes(bobSocket!.client, "taskChanged", endpoint);
    await aliceTasks.live(alice);
    await bobTasks.live(bob);

    const aliceTask = await createTask(endpoint, alice, "Through the pooler");
    expect(await aliceTasks.next()).toEqual({
      event: "CREATED",
      rowId: aliceTask,
      node: { rowId: aliceTask, title: "Through the pooler", userId: alice.sub },
    });
    // Commit order: had alice's event reached bob, it would come before his own.
    const bobTask = await createTask(endpoint, bob, "Mine");
    expect(await bobTasks.next()).toMatchObject({ event: "CREATED", rowId: bobTask, node: { userId: bob.sub } });
  });
});
