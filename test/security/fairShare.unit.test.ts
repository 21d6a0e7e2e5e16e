/*
 * The two mechanisms of issue 12's per-user share on their own, without a server:
 * the keyed limiter (db/fairShare.ts) and the response-size count (graphql/response.ts).
 */
import type { IncomingMessage } from "node:http";
import type { Claims } from "../../src/auth/jwt";
import { makeFairShare, ShareExceededError, shareKeyOf } from "../../src/db/fairShare";
import { fairShareOptions } from "../../src/graphile.config";
import { jsonBytesBeyond } from "../../src/graphql/response";

/** An operation that runs until the test ends it. */
function held() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let started = false;
  return {
    operation: async () => {
      started = true;
      await done;
      return "finished";
    },
    started: () => started,
    finish,
  };
}

describe("the fair share", () => {
  it("lets one key hold perKey places; the next waits and runs as soon as one frees", async () => {
    const share = makeFairShare({ perKey: 2, waitMs: 10_000, maxWaiting: 10 });
    const [a, b, c] = [held(), held(), held()];
    const running = [share.run("alice", a.operation), share.run("alice", b.operation)];
    const waiting = share.run("alice", c.operation);
    await Promise.resolve();
    expect([a.started(), b.started(), c.started()]).toEqual([true, true, false]);
    a.finish();
    await running[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.started()).toBe(true);
    b.finish();
    c.finish();
    await expect(Promise.all([...running, waiting])).resolves.toEqual(["finished", "finished", "finished"]);
    expect(share.activeKeys()).toBe(0); // idle keys keep no state
  });

  it("refuses with RATE_LIMITED after the wait, while another key runs at once", async () => {
    const share = makeFairShare({ perKey: 1, waitMs: 30, maxWaiting: 10 });
    const hog = held();
    const holding = share.run("hog", hog.operation);
    const refused = share.run("hog", async () => "never");
    await expect(share.run("bystander", async () => "ok")).resolves.toBe("ok");
    await expect(refused).rejects.toBeInstanceOf(ShareExceededError);
    await expect(refused).rejects.toMatchObject({ code: "RATE_LIMITED" });
    expect(share.refusals()).toBe(1);
    hog.finish();
    await holding;
    expect(share.activeKeys()).toBe(0);
  });

  it("refuses at once when too many already wait, and a failing operation frees its place", async () => {
    const share = makeFairShare({ perKey: 1, waitMs: 10_000, maxWaiting: 1 });
    const hog = held();
    const holding = share.run("hog", hog.operation);
    const queued = share.run("hog", async () => {
      throw new Error("boom");
    });
    await expect(share.run("hog", async () => "never")).rejects.toBeInstanceOf(ShareExceededError);
    hog.finish();
    await holding;
    await expect(queued).rejects.toThrow("boom");
    await expect(share.run("hog", async () => "again")).resolves.toBe("again");
    expect(share.activeKeys()).toBe(0);
  });

  it("defaults to a third of the pool, at least one connection", () => {
    expect(fairShareOptions({ connectionsPerUser: undefined, waitMs: 5 }, 10).perKey).toBe(3);
    expect(fairShareOptions({ connectionsPerUser: undefined, waitMs: 5 }, 2).perKey).toBe(1);
    expect(fairShareOptions({ connectionsPerUser: 4, waitMs: 5 }, 10).perKey).toBe(4);
  });
});

describe("the response size count", () => {
  const samples: unknown[] = [
    {
      tasks: {
        nodes: [
          { title: "a", tags: [], done: false, n: 12.5 },
          { title: "ünïcødé ✓", tags: ["x", "y"] },
        ],
      },
    },
    { a: null, b: {}, c: [[], [1, 2, 3], [{}]], d: true },
    [],
    "text",
  ];
  it.each(samples)("is exact for JSON without escapes: %j", (value) => {
    const bytes = Buffer.byteLength(JSON.stringify(value));
    expect(jsonBytesBeyond(value, bytes)).toBe(false);
    expect(jsonBytesBeyond(value, bytes - 1)).toBe(true);
  });

  it("stops at the cap instead of walking everything", () => {
    let visited = 0;
    const rows = Array.from({ length: 10_000 }, () => ({
      get title() {
        visited += 1;
        return "x".repeat(100);
      },
    }));
    expect(jsonBytesBeyond({ rows }, 1_000)).toBe(true);
    expect(visited).toBeLessThan(20);
  });
});

describe("whose share an operation uses", () => {
  const request = (ip: string | undefined, peer = "10.9.8.7") =>
    ({ ...(ip ? { ip } : {}), socket: { remoteAddress: peer } }) as unknown as IncomingMessage;

  it("is the verified sub, whatever the address", () => {
    expect(shareKeyOf({ sub: "alice" } as Claims, request("1.2.3.4"))).toBe("sub:alice");
    expect(shareKeyOf({ sub: "alice" } as Claims, request("5.6.7.8"))).toBe("sub:alice");
  });

  it("is the address for an anonymous caller: Express's req.ip, IPv6 by /56, else the peer", () => {
    expect(shareKeyOf(null, request("1.2.3.4"))).toBe("ip:1.2.3.4");
    expect(shareKeyOf(null, request("2001:db8:1:2ff::1"))).toBe(shareKeyOf(null, request("2001:db8:1:200::9")));
    expect(shareKeyOf(null, request("2001:db8:1:2ff::1"))).not.toBe(shareKeyOf(null, request("2001:db8:1:300::1")));
    expect(shareKeyOf(null, request(undefined))).toBe("ip:10.9.8.7");
  });
});
