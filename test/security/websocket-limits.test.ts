/*
 * WebSocket limits per user (issue 12): sockets open at once, subscriptions over all of a
 * user's sockets, and messages per interval over all of them. A hog at each cap is refused
 * with the documented close code or error, while bob, at the same time, connects and hears
 * his own events; closing sockets and subscriptions gives the quota back; more sockets buy
 * no more messages.
 */
import { createClient, type Client as WsClient } from "graphql-ws";
import WebSocket from "ws";
import { CLOSE_CODES } from "../../src/realtime/websocket";
import { WebSocketQuotas } from "../../src/realtime/quotas";
import { startApi, type TestApi } from "../support/api";
import { Changes, createTask, within } from "../support/liveUpdates";
import { newUser, type User } from "../support/tokens";

const LIMITS = { sockets: 2, subscriptions: 3, messages: 20 };

let api: TestApi;
const clients: WsClient[] = [];
const raws: WebSocket[] = [];

beforeAll(async () => {
  api = await startApi({
    env: {
      WS_MAX_SOCKETS_PER_USER: String(LIMITS.sockets),
      WS_MAX_SUBSCRIPTIONS_PER_USER: String(LIMITS.subscriptions),
      WS_MESSAGES_PER_INTERVAL: String(LIMITS.messages),
      // One message back per 3 s: nothing refills within a test's burst.
      WS_MESSAGE_INTERVAL_MS: "60000",
    },
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
  for (const raw of raws.splice(0)) raw.terminate();
});

afterAll(() => api.close());

interface Connection {
  client: WsClient;
  connected: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A graphql-ws client that connects at once and never retries: every close is the server's. */
function connect(user: User): Connection {
  let onConnected: () => void;
  let onClosed: (event: { code: number; reason: string }) => void;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: `${api.url.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${user.token}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {}, // closes are asserted through `closed`
    on: {
      connected: () => onConnected(),
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        onClosed({ code, reason });
      },
    },
  });
  clients.push(client);
  return { client, connected, closed };
}

/** The protocol by hand, to send exactly the messages a test counts. */
async function rawSocket(user: User | undefined) {
  const ws = new WebSocket(`${api.url.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
  raws.push(ws);
  const received: Array<Record<string, unknown>> = [];
  let wake = () => {};
  ws.on("message", (data) => {
    received.push(JSON.parse(data.toString()));
    wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await within(new Promise((resolve) => ws.once("open", resolve)), 5000, "the socket to open");
  const send = (message: Record<string, unknown>) => ws.send(JSON.stringify(message));
  /** Waits until `count` messages have come in (or the socket closed). */
  const receivedCount = (count: number) =>
    within(
      new Promise<void>((resolve) => {
        wake = () => received.length >= count && resolve();
        wake();
        void closed.then(() => resolve());
      }),
      5000,
      `${count} messages`,
    );
  if (user) {
    send({ type: "connection_init", payload: { authorization: `Bearer ${user.token}` } });
    await receivedCount(1);
  }
  return { ws, send, received, receivedCount, closed };
}

/** Bob, at the same moment, connects and hears his own change: the hog's cap is not his. */
async function bobIsUnaffected() {
  const bob = await newUser("bob");
  const { client } = connect(bob);
  const changes = new Changes(client, "taskChanged", api);
  await changes.live(bob);
  const rowId = await createTask(api, bob, "Bob's errand");
  expect(await changes.next()).toMatchObject({ event: "CREATED", rowId });
}

/** Tries to connect until the server has seen the earlier socket's close; fails if it never does. */
async function connectOnceReleased(user: User): Promise<Connection> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const socket = connect(user);
    const outcome = await within(
      Promise.race([socket.connected.then(() => "connected" as const), socket.closed]),
      5000,
      "the connection",
    );
    if (outcome === "connected") return socket;
    expect(outcome).toMatchObject({ code: CLOSE_CODES.tooManySockets });
    if (Date.now() > deadline) throw new Error("the closed socket's place was never given back");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("sockets per user", () => {
  it("refuses the user's socket beyond the cap with 4290 at connection_init; another user is unaffected; closing one frees its place", async () => {
    const alice = await newUser("alice");
    const open = Array.from({ length: LIMITS.sockets }, () => connect(alice));
    await within(Promise.all(open.map((socket) => socket.connected)), 5000, "the connections");

    const excess = connect(alice);
    expect(await within(excess.closed, 5000, "the excess socket to close")).toEqual({
      code: CLOSE_CODES.tooManySockets,
      reason: `Too many connections: at most ${LIMITS.sockets} sockets per user; close one first`,
    });
    await bobIsUnaffected();

    // The sockets at the cap still work.
    const changes = new Changes(open[0]!.client, "taskChanged", api);
    await changes.live(alice);

    await open[1]!.client.dispose();
    await open[1]!.closed;
    const again = await connectOnceReleased(alice);
    await new Changes(again.client, "listChanged", api).live(alice);
  });
});

describe("subscriptions per user", () => {
  it("counts every socket of the user: the one beyond the cap gets LIMIT_EXCEEDED; completing one frees its place", async () => {
    const alice = await newUser("alice");
    const first = connect(alice);
    const second = connect(alice);
    // Two on the first socket, live (so both are counted), and one on the second: three in all.
    new Changes(first.client, "taskChanged", api);
    await new Changes(first.client, "listChanged", api).live(alice);
    const third = second.client.iterate({ query: "subscription { taskChanged { event } }" });
    // Messages on one socket are handled in order: the third is counted when this one arrives.
    const fourth = second.client.iterate({ query: "subscription { listChanged { event } }" });
    await expect(within(fourth.next(), 5000, "the fourth subscription's answer")).rejects.toEqual([
      expect.objectContaining({
        message: `at most ${LIMITS.subscriptions} subscriptions may run at once, over all of a user's sockets`,
        extensions: expect.objectContaining({ code: "LIMIT_EXCEEDED", limit: "subscriptions" }),
      }),
    ]);
    await bobIsUnaffected();

    await third.return!(); // sends `complete` on the same socket, ahead of the next subscribe
    await new Changes(second.client, "listChanged", api).live(alice);

    // Closing a socket frees all of its subscriptions.
    await first.client.dispose();
    await first.closed;
    const other = await connectOnceReleased(alice);
    await new Changes(other.client, "taskChanged", api).live(alice);
    await new Changes(other.client, "listChanged", api).live(alice);
  });
});

describe("messages per user", () => {
  it("closes the socket that sends one message too many with 4291, and a new socket cannot bypass it", async () => {
    const alice = await newUser("alice");
    const hog = await rawSocket(alice);
    expect(hog.received).toEqual([{ type: "connection_ack", payload: expect.anything() }]);
    // connection_init was the first message; the rest of the budget goes on pings, each answered.
    for (let i = 1; i < LIMITS.messages; i++) hog.send({ type: "ping" });
    await hog.receivedCount(LIMITS.messages);
    expect(hog.received.slice(1)).toEqual(Array(LIMITS.messages - 1).fill({ type: "pong" }));

    // A second socket's connection_init is a message too: the budget is the user's, not the socket's.
    const bypass = await rawSocket(alice);
    expect(await bypass.closed).toEqual({
      code: CLOSE_CODES.tooManyMessages,
      reason: `Too many messages: at most ${LIMITS.messages} per 60 s per user; reconnect later`,
    });
    expect(bypass.received).toEqual([]);

    await bobIsUnaffected();

    hog.send({ type: "ping" });
    expect(await hog.closed).toMatchObject({ code: CLOSE_CODES.tooManyMessages });
    expect(hog.received).toHaveLength(LIMITS.messages); // no pong for the one too many
  });

  it("gives a socket that has not signed in a few messages only", async () => {
    const anonymous = await rawSocket(undefined);
    for (let i = 0; i < 3; i++) anonymous.send({ type: "ping" });
    await anonymous.receivedCount(3);
    expect(anonymous.received).toEqual([{ type: "pong" }, { type: "pong" }, { type: "pong" }]);
    anonymous.send({ type: "ping" });
    expect(await anonymous.closed).toMatchObject({ code: CLOSE_CODES.tooManyMessages });
    expect(anonymous.received).toHaveLength(3);
  });
});

describe("WebSocketQuotas", () => {
  const limits = { socketsPerUser: 2, subscriptionsPerUser: 3, messagesPerInterval: 4, messageIntervalMs: 1000 };
  afterEach(() => jest.useRealTimers());

  it("admits up to the cap per user, and again once a socket is released", () => {
    const quotas = new WebSocketQuotas(limits);
    const a = quotas.admit("alice", () => 0)!;
    const b = quotas.admit("alice", () => 0)!;
    expect(quotas.admit("alice", () => 0)).toBeUndefined();
    expect(quotas.admit("bob", () => 0)).toBeDefined();
    a.release();
    a.release(); // idempotent: it frees one place, not two
    expect(quotas.sockets("alice")).toBe(1);
    expect(quotas.admit("alice", () => 0)).toBeDefined();
    expect(quotas.admit("alice", () => 0)).toBeUndefined();
    expect(b.subscriptions()).toBe(0);
  });

  it("sums subscriptions over the user's open sockets only", () => {
    const quotas = new WebSocketQuotas(limits);
    const a = quotas.admit("alice", () => 2)!;
    const b = quotas.admit("alice", () => 1)!;
    const bob = quotas.admit("bob", () => 5)!;
    expect(a.subscriptions()).toBe(3);
    expect(b.subscriptions()).toBe(3);
    expect(bob.subscriptions()).toBe(5);
    a.release();
    expect(b.subscriptions()).toBe(1);
  });

  it("shares one message budget between the user's sockets, refilled over the interval, and keeps it past the last socket", () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const quotas = new WebSocketQuotas(limits);
    const a = quotas.admit("alice", () => 0)!;
    const b = quotas.admit("alice", () => 0)!;
    const bob = quotas.admit("bob", () => 0)!;
    expect([a.takeMessage(), b.takeMessage(), a.takeMessage(), b.takeMessage()]).toEqual([true, true, true, true]);
    expect(a.takeMessage()).toBe(false);
    expect(b.takeMessage()).toBe(false);
    expect(bob.takeMessage()).toBe(true);

    jest.advanceTimersByTime(250); // a quarter interval: one message back
    expect(b.takeMessage()).toBe(true);
    expect(a.takeMessage()).toBe(false);

    // Closing every socket and coming back does not refill the budget...
    a.release();
    b.release();
    bob.release();
    const c = quotas.admit("alice", () => 0)!;
    expect(c.takeMessage()).toBe(false);
    c.release();
    // ...and the state is dropped once it is full again, so closed sockets leave nothing behind.
    expect(quotas.size).toBe(1); // bob's budget was full once refilled, alice's not yet
    jest.advanceTimersByTime(1000);
    expect(quotas.size).toBe(0);
    expect(quotas.admit("alice", () => 0)!.takeMessage()).toBe(true);
  });
});
