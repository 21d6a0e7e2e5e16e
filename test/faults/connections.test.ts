/*
 * What the pool and the HTTP server do when connections misbehave: backends killed
 * by an administrator, a pool with nothing free, slow-loris clients and a burst of
 * connections, and a shutdown with requests in flight.
 */
import net from "node:net";
import { Client, type PoolClient } from "pg";
import { startApi } from "../support/api";
import { testDb } from "../support/env";
import { newUser } from "../support/tokens";

const WHO = `{ currentUserId }`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("pg_terminate_backend on the pool's connections mid-load", () => {
  it("answers the next requests normally", async () => {
    const api = await startApi({ poolSize: 4 });
    const admin = new Client({ connectionString: testDb.superuserUrl });
    await admin.connect();
    try {
      const { sub, token } = await newUser("kill");
      const load = async () => {
        const answers = [];
        for (let i = 0; i < 30; i++) answers.push(await api.graphql(WHO, {}, { token }));
        return answers;
      };
      const running = [load(), load(), load()];
      await sleep(50);
      const killed = await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where usename = $1 and datname = current_database() and pid <> pg_backend_pid()`,
        [new URL(testDb.authUrl).username],
      );
      expect(killed.rowCount).toBeGreaterThan(0);
      const answers = (await Promise.all(running)).flat();
      // A request caught on a dying connection may fail (503 UNAVAILABLE, or 500 INTERNAL when the
      // connection dies between grafserv's own steps); none may hang, go uncoded or crash the server.
      for (const answer of answers) {
        if (answer.status === 200) continue;
        const code = answer.body.errors?.[0]?.extensions?.code;
        expect({ status: answer.status, code }).toEqual(
          code === "INTERNAL" ? { status: 500, code } : { status: 503, code: "UNAVAILABLE" },
        );
      }
      const after = await Promise.all(Array.from({ length: 8 }, () => api.graphql(WHO, {}, { token })));
      for (const answer of after) expect(answer.body).toEqual({ data: { currentUserId: sub } });
    } finally {
      await admin.end();
      await api.close();
    }
  });
});

describe("pool exhaustion", () => {
  it("answers 503 quickly instead of queueing forever, and recovers when connections free up", async () => {
    const api = await startApi({
      poolSize: 1,
      // The user's share allows all 5 at once: this is about the pool's own wait, not the share's.
      env: { DATABASE_POOL_TIMEOUT_MS: "300", DATABASE_CONNECTIONS_PER_USER: "5" },
    });
    let held: PoolClient | undefined;
    try {
      const { sub, token } = await newUser("crowd");
      held = await api.pool.connect(); // the only connection, busy elsewhere
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 5 }, () => api.graphql(WHO, {}, { token })));
      expect(Date.now() - started).toBeLessThan(2000);
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.headers.get("retry-after")).toBe("5");
        expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: "UNAVAILABLE", retryable: true });
      }
      held.release();
      held = undefined;
      expect((await api.graphql(WHO, {}, { token })).body).toEqual({ data: { currentUserId: sub } });
    } finally {
      held?.release();
      await api.close();
    }
  });
});

describe("slow and numerous clients", () => {
  it("drops slow-loris connections after the header timeout and stays responsive meanwhile", async () => {
    const api = await startApi({ env: { HTTP_HEADERS_TIMEOUT_MS: "1000" } });
    const { sub, token } = await newUser("patient");
    const port = Number(new URL(api.url).port);
    const sockets: net.Socket[] = [];
    const closed: Array<Promise<number>> = [];
    try {
      for (let i = 0; i < 50; i++) {
        const socket = net.connect(port, "127.0.0.1");
        const opened = Date.now();
        closed.push(new Promise((resolve) => socket.once("close", () => resolve(Date.now() - opened))));
        socket.on("error", () => {}); // the server hanging up is the point
        socket.write("POST /graphql HTTP/1.1\r\nHost: x\r\n");
        sockets.push(socket);
      }
      // Trickle a header line now and then, as slow-loris does.
      const trickle = setInterval(() => sockets.forEach((s) => s.writable && s.write("X-A: b\r\n")), 200);
      const answer = await api.graphql(WHO, {}, { token });
      expect(answer.body).toEqual({ data: { currentUserId: sub } });
      const lifetimes = await Promise.all(closed);
      clearInterval(trickle);
      expect(Math.max(...lifetimes)).toBeLessThan(5000);
    } finally {
      sockets.forEach((s) => s.destroy());
      await api.close();
    }
  });

  it("answers a burst of 300 concurrent requests, each correctly", async () => {
    const api = await startApi({ poolSize: 4 });
    try {
      const users = await Promise.all(["a", "b", "c"].map(newUser));
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) => {
          const user = users[i % 3]!;
          return api.graphql(WHO, {}, { token: user.token }).then((answer) => ({ user, answer }));
        }),
      );
      for (const { user, answer } of answers) expect(answer.body).toEqual({ data: { currentUserId: user.sub } });
    } finally {
      await api.close();
    }
  });
});

describe("graceful shutdown", () => {
  it("reports not-ready while draining, then refuses new connections and lets requests in flight finish", async () => {
    const api = await startApi({
      poolSize: 1,
      env: { DATABASE_POOL_TIMEOUT_MS: "20000" }, // the in-flight request waits out the whole drain
    });
    const { sub, token } = await newUser("leaving");
    const held = await api.pool.connect(); // keeps the next request waiting: it is "in flight"
    let released = false;
    try {
      const inFlight = api.graphql(WHO, {}, { token });
      await sleep(100);
      const closing = api.closeGracefully({ drainMs: 2000, graceMs: 10_000 });
      await sleep(100);
      const probe = await fetch(`${api.url}/health/ready`);
      expect(probe.status).toBe(503);
      expect(((await probe.json()) as { checks: Record<string, string> }).checks.shutdown).toBe("shutting down");
      await sleep(2200);
      // Past the drain: no new connection is accepted.
      const connecting = new Promise((resolve, reject) =>
        net
          .connect(Number(new URL(api.url).port), "127.0.0.1")
          .once("connect", resolve)
          .once("error", reject),
      );
      await expect(connecting).rejects.toMatchObject({ code: "ECONNREFUSED" });
      held.release();
      released = true;
      expect((await inFlight).body).toEqual({ data: { currentUserId: sub } });
      await closing;
    } finally {
      if (!released) held.release();
    }
  });
});
