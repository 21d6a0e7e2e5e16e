/*
 * Live updates over WebSocket (graphql-ws): alice hears about her own tasks and
 * lists as they change; bob, whose subscription demonstrably works, hears none
 * of it. The token is checked when the socket opens and the socket closes when
 * it expires; the topic comes from the token alone.
 */
import { createClient, type Client as WsClient } from "graphql-ws";
import { Client } from "pg";
import WebSocket from "ws";
import { roleNames } from "../../src/db/roles";
import { changeChannel } from "../../src/realtime/channels";
import { loadConfig } from "../../src/config";
import { CLOSE_CODES } from "../../src/realtime/websocket";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { Changes, createTask, gql, openSocket, within } from "../support/liveUpdates";
import { hmacKey, newUser, sign, testSecret, userKey } from "../support/tokens";

let api: TestApi;
let db: Client;
const clients: WsClient[] = [];

/** A socket to the shared API, disposed after the test. */
function connect(connectionParams: Record<string, unknown> | undefined) {
  const socket = openSocket(api, connectionParams);
  clients.push(socket.client);
  return socket;
}

beforeAll(async () => {
  api = await startApi();
  db = new Client({ connectionString: testDb.superuserUrl });
  await db.connect();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});

afterAll(async () => {
  await db.end();
  await api.close();
});

describe("alice's own changes", () => {
  it("reach her as created, updated and deleted tasks, each read again with her permissions", async () => {
    const alice = await newUser("alice");
    const changes = new Changes(connect({ authorization: `Bearer ${alice.token}` }).client, "taskChanged", api);
    await changes.live(alice);

    const rowId = await createTask(api, alice, "Buy milk");
    expect(await changes.next()).toEqual({
      event: "CREATED",
      rowId,
      node: { rowId, title: "Buy milk", userId: alice.sub },
    });

    await gql(
      api,
      alice,
      `mutation ($id: UUID!) { updateTask(input: { rowId: $id, patch: { title: "Buy oat milk" } }) { clientMutationId } }`,
      { id: rowId },
    );
    expect(await changes.next()).toEqual({
      event: "UPDATED",
      rowId,
      node: { rowId, title: "Buy oat milk", userId: alice.sub },
    });

    await gql(api, alice, `mutation ($id: UUID!) { deleteTask(input: { rowId: $id }) { clientMutationId } }`, {
      id: rowId,
    });
    expect(await changes.next()).toEqual({ event: "DELETED", rowId, node: null });
  });

  it("reach her as created, updated and deleted lists; a list's deletion is one event, not one per task", async () => {
    const alice = await newUser("alice");
    const { client } = connect({ authorization: `Bearer ${alice.token}` });
    const lists = new Changes(client, "listChanged", api);
    const tasks = new Changes(client, "taskChanged", api);
    await lists.live(alice);
    await tasks.live(alice);

    const listId = (
      await gql(api, alice, `mutation { createList(input: { list: { name: "Groceries" } }) { list { rowId } } }`)
    ).createList.list.rowId as string;
    expect(await lists.next()).toEqual({
      event: "CREATED",
      rowId: listId,
      node: { rowId: listId, name: "Groceries", userId: alice.sub },
    });
    await gql(
      api,
      alice,
      `mutation ($id: UUID!) { updateList(input: { rowId: $id, patch: { name: "Food" } }) { clientMutationId } }`,
      { id: listId },
    );
    expect(await lists.next()).toMatchObject({ event: "UPDATED", rowId: listId, node: { name: "Food" } });

    const taskId = (
      await gql(
        api,
        alice,
        `mutation ($l: UUID!) { createTask(input: { task: { title: "Bread", listId: $l } }) { task { rowId } } }`,
        {
          l: listId,
        },
      )
    ).createTask.task.rowId as string;
    expect(await tasks.next()).toMatchObject({ event: "CREATED", rowId: taskId });

    await gql(api, alice, `mutation ($id: UUID!) { deleteList(input: { rowId: $id }) { clientMutationId } }`, {
      id: listId,
    });
    expect(await lists.next()).toEqual({ event: "DELETED", rowId: listId, node: null });
    // Unlinking the list's tasks is part of that one event: the next task event is the next change
    // alice makes herself.
    await gql(
      api,
      alice,
      `mutation ($id: UUID!) { updateTask(input: { rowId: $id, patch: { title: "Rye bread" } }) { clientMutationId } }`,
      { id: taskId },
    );
    expect(await tasks.next()).toMatchObject({ event: "UPDATED", rowId: taskId, node: { title: "Rye bread" } });
    const task = await gql(api, alice, `query ($id: UUID!) { task(rowId: $id) { listId } }`, { id: taskId });
    expect(task).toEqual({ task: { listId: null } });
  });
});

describe("bob", () => {
  it("hears his own changes and none of alice's, even when his connectionParams name her", async () => {
    const alice = await newUser("alice");
    const bob = await newUser("bob");
    const aliceTasks = new Changes(connect({ authorization: `Bearer ${alice.token}` }).client, "taskChanged", api);
    // Everything but the token is ignored: no parameter chooses whose changes to hear.
    const bobTasks = new Changes(
      connect({ authorization: `Bearer ${bob.token}`, sub: alice.sub, userId: alice.sub, topic: alice.sub }).client,
      "taskChanged",
      api,
    );
    await aliceTasks.live(alice);
    await bobTasks.live(bob); // bob's subscription works: he hears his own probe

    const aliceTask = await createTask(api, alice, "Alice's secret");
    await gql(
      api,
      alice,
      `mutation ($id: UUID!) { updateTask(input: { rowId: $id, patch: { completed: true } }) { clientMutationId } }`,
      { id: aliceTask },
    );
    // Alice's changes happened and were announced: she heard both, and the row is hers in the database.
    expect(await aliceTasks.next()).toMatchObject({ event: "CREATED", rowId: aliceTask });
    expect(await aliceTasks.next()).toMatchObject({ event: "UPDATED", rowId: aliceTask });
    const { rows } = await db.query("select user_id, title from app_public.tasks where id = $1", [aliceTask]);
    expect(rows).toEqual([{ user_id: alice.sub, title: "Alice's secret" }]);

    // Notifications reach a listener in commit order: if any of alice's had come to bob,
    // it would arrive before this change of his own.
    const bobTask = await createTask(api, bob, "Bob's errand");
    expect(await bobTasks.next()).toEqual({
      event: "CREATED",
      rowId: bobTask,
      node: { rowId: bobTask, title: "Bob's errand", userId: bob.sub },
    });
  });

  it("stays hidden from alice even when a notification on her channel names his task: the row is read with her permissions", async () => {
    const alice = await newUser("alice");
    const bob = await newUser("bob");
    const changes = new Changes(connect({ authorization: `Bearer ${alice.token}` }).client, "taskChanged", api);
    await changes.live(alice);
    const bobTask = await createTask(api, bob, "Bob's diary");
    const { rows } = await db.query("select user_id from app_public.tasks where id = $1", [bobTask]);
    expect(rows).toEqual([{ user_id: bob.sub }]); // it exists, and it is bob's

    // A forged (or mistaken) notification: only the database could send one.
    await db.query("select pg_notify($1, $2)", [
      changeChannel("tasks", alice.sub),
      JSON.stringify({ event: "UPDATED", id: bobTask }),
    ]);
    expect(await changes.next()).toEqual({ event: "UPDATED", rowId: bobTask, node: null });
  });

  it("cannot name a topic: the subscription fields take no arguments", async () => {
    const bob = await newUser("bob");
    const { client } = connect({ authorization: `Bearer ${bob.token}` });
    const attempt = client.iterate({ query: `subscription { taskChanged(userId: "alice") { event rowId } }` });
    await expect(attempt.next()).rejects.toEqual([
      expect.objectContaining({
        message: expect.stringContaining('Unknown argument "userId"'),
        extensions: expect.objectContaining({ code: "BAD_USER_INPUT" }),
      }),
    ]);

    const { body } = await api.graphql(
      `{ __type(name: "Subscription") { fields { name args { name } } } }`,
      {},
      { token: bob.token },
    );
    expect(body.data!.__type.fields).toEqual([
      { name: "taskChanged", args: [] },
      { name: "listChanged", args: [] },
    ]);
  });
});

describe("the socket", () => {
  it.each([
    ["no connectionParams", undefined, "Unauthorized"],
    ["no authorization", { token: "x" }, "Unauthorized"],
    [
      "not a Bearer value",
      { authorization: "Basic abc" },
      'Invalid token: Authorization header must be "Bearer <JWT>"',
    ],
    ["a token signed with another key", "wrong-key", "Invalid token: token signature is invalid"],
    ["an expired token", "expired", "Invalid token: token has expired (exp)"],
  ])("is closed with 4401 before any database work for %s", async (_name, params, reason) => {
    const connectionsBefore = api.connections();
    const connectionParams: Record<string, unknown> | undefined =
      params === "wrong-key"
        ? { authorization: `Bearer ${await sign({ sub: "alice" }, hmacKey(testSecret()))}` }
        : params === "expired"
          ? { authorization: `Bearer ${await sign({ sub: "alice" }, userKey, { expiresIn: -3600 })}` }
          : (params as Record<string, unknown> | undefined);
    const { client, closed } = connect(connectionParams);
    const attempt = client.iterate({ query: "subscription { taskChanged { event } }" });
    await expect(attempt.next()).rejects.toMatchObject({ code: CLOSE_CODES.unauthorized });
    const event = await closed;
    expect(event.code).toBe(4401);
    expect(event.reason.startsWith(reason)).toBe(true);
    expect(api.connections()).toBe(connectionsBefore);
  });

  it("closes with 4403 when the token expires, not before", async () => {
    const alice = await newUser("alice");
    const expiresAt = Math.floor(Date.now() / 1000) + 3;
    const token = await sign({ sub: alice.sub, exp: expiresAt }, userKey);
    const { client, closed, ack } = connect({ authorization: `Bearer ${token}` });
    const changes = new Changes(client, "taskChanged", api);
    await changes.live(alice);
    expect(ack()).toEqual({ expiresAt });

    const event = await within(closed, 10_000, "the socket to close at exp");
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
    expect(event).toMatchObject({
      code: CLOSE_CODES.tokenExpired,
      reason: "Token expired: reconnect with a fresh token",
    });
    await expect(changes.next()).rejects.toBeDefined(); // the subscription ended with it
  });

  it("is the only way in: a subscription sent over HTTP is refused at once, signed in or not", async () => {
    const alice = await newUser("alice");
    for (const token of [alice.token, undefined]) {
      const { body } = await api.graphql("subscription { taskChanged { event } }", {}, token ? { token } : {});
      expect(body.errors).toEqual([
        expect.objectContaining({
          message: "subscriptions are served over WebSocket (graphql-ws), to signed-in users",
          extensions: expect.objectContaining({ code: "BAD_USER_INPUT" }),
        }),
      ]);
    }
  });

  it("carries subscriptions only: queries and mutations belong on HTTP", async () => {
    const alice = await newUser("alice");
    const { client } = connect({ authorization: `Bearer ${alice.token}` });
    const attempt = client.iterate({ query: "{ currentUserId }" });
    await expect(attempt.next()).rejects.toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: "BAD_USER_INPUT" }) }),
    ]);
  });

  it("applies the query limits to subscriptions: page size, and at most 20 at once per user", async () => {
    const alice = await newUser("alice");
    const { client } = connect({ authorization: `Bearer ${alice.token}` });
    const tooLarge = client.iterate({
      query: "subscription { listChanged { list { tasks(first: 101) { nodes { title } } } } }",
    });
    await expect(tooLarge.next()).rejects.toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: "LIMIT_EXCEEDED", limit: "pageSize" }) }),
    ]);

    // More across several sockets, and the other limits per user: test/security/websocket-limits.test.ts.
    const { subscriptionsPerUser } = loadConfig({}).websocket;
    const twenty = Array.from({ length: subscriptionsPerUser }, () => new Changes(client, "taskChanged", api));
    await twenty[0]!.live(alice); // the first is listening; the rest share its LISTEN
    const oneMore = client.iterate({ query: "subscription { taskChanged { event } }" });
    await expect(oneMore.next()).rejects.toEqual([
      expect.objectContaining({
        extensions: expect.objectContaining({ code: "LIMIT_EXCEEDED", limit: "subscriptions" }),
      }),
    ]);
  });

  it("is closed with 1001 by a graceful shutdown, which does not wait for it", async () => {
    const own = await startApi();
    const alice = await newUser("alice");
    let resolveClosed: (event: { code: number }) => void;
    const closed = new Promise<{ code: number }>((resolve) => (resolveClosed = resolve));
    const client = createClient({
      url: `${own.url.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${alice.token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {}, // the close is asserted below
      on: { closed: (event) => resolveClosed(event as { code: number }) },
    });
    clients.push(client);
    await within(new Promise<void>((resolve) => client.on("connected", () => resolve())), 5000, "the connection");

    await within(own.closeGracefully({ drainMs: 0, graceMs: 5000 }), 4000, "the shutdown");
    expect((await closed).code).toBe(CLOSE_CODES.goingAway);
  });
});

describe("the LISTEN connection", () => {
  it("closes every socket with 1013 when it is lost, since events may have been missed; a new socket works", async () => {
    const alice = await newUser("alice");
    const socket = connect({ authorization: `Bearer ${alice.token}` });
    const changes = new Changes(socket.client, "taskChanged", api);
    await changes.live(alice);

    // The API's listening session, by the application_name its pool gives it.
    const { rows } = await db.query(
      `select pg_terminate_backend(pid) as killed from pg_stat_activity
        where datname = current_database() and usename = $1 and application_name = $2`,
      [roleNames().authenticator, api.listenerName],
    );
    expect(rows).toEqual([{ killed: true }]);
    expect(await within(socket.closed, 5000, "the socket to close")).toEqual(
      expect.objectContaining({
        code: CLOSE_CODES.listenerLost,
        reason: "Live updates were interrupted; reconnect and refetch",
      }),
    );
    await expect(changes.next()).rejects.toBeDefined(); // the subscription ended with the socket

    const again = new Changes(connect({ authorization: `Bearer ${alice.token}` }).client, "taskChanged", api);
    await again.live(alice);
    const rowId = await createTask(api, alice, "After the outage");
    expect(await again.next()).toMatchObject({ event: "CREATED", rowId });
  });
});
