/*
 * Two clones on one machine: the second one's embedded Postgres must not fight the first for
 * port 54329. chooseEmbeddedPort takes another port when the preferred one is held, remembers
 * it for the clone's next start, and refuses an explicit EMBEDDED_PG_PORT that is held; and a
 * Postgres that cannot start says why instead of "undefined".
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chooseEmbeddedPort } from "../../scripts/db/dev";
import { freePort } from "../../scripts/db/embedded";
import { describe as describeFailure } from "../../src/launch";
import { runScript } from "../support/scripts";

let held: net.Server;
let heldPort: number;
let dir: string;

beforeAll(async () => {
  held = net.createServer();
  await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
  heldPort = (held.address() as net.AddressInfo).port;
});
afterAll(() => held.close());
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "embedded-port-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const notOurs = async () => false;

it("takes another port when the default is held by another program, and remembers it", async () => {
  const lines: string[] = [];
  const file = path.join(dir, "embedded-port");
  const first = await chooseEmbeddedPort({ defaultPort: heldPort, file, ours: notOurs, log: (l) => lines.push(l) });
  expect(first.port).not.toBe(heldPort);
  expect(first.running).toBe(false);
  expect(Number(readFileSync(file, "utf8"))).toBe(first.port);
  expect(lines.join("\n")).toContain(`port ${heldPort} is held by another program`);
  // The clone's next start: its own port again, though the default is still held.
  const again = await chooseEmbeddedPort({ defaultPort: heldPort, file, ours: notOurs, log: () => {} });
  expect(again.port).toBe(first.port);
});

it("keeps the default when it is free, and reuses a port where this clone's cluster already runs", async () => {
  const file = path.join(dir, "embedded-port");
  const free = await freePort();
  expect(await chooseEmbeddedPort({ defaultPort: free, file, ours: notOurs, log: () => {} })).toEqual({
    port: free,
    running: false,
  });
  const ours = async (port: number) => port === heldPort;
  expect(await chooseEmbeddedPort({ defaultPort: heldPort, file, ours, log: () => {} })).toEqual({
    port: heldPort,
    running: true,
  });
});

it("refuses an explicit EMBEDDED_PG_PORT that is held, naming the variable", async () => {
  await expect(
    chooseEmbeddedPort({ requested: heldPort, file: path.join(dir, "p"), ours: notOurs, log: () => {} }),
  ).rejects.toThrow(`EMBEDDED_PG_PORT=${heldPort} is in use by another program: set EMBEDDED_PG_PORT to a free port`);
});

it("an embedded Postgres that cannot take its port says so", async () => {
  const result = await runScript("test/support/embeddedOnPort.ts", [], { PORT: String(heldPort) });
  expect(result.code).toBe(1);
  expect(result.output).toMatch(
    new RegExp(`failed: the embedded Postgres stopped before accepting connections on port ${heldPort}: .*\\S`),
  );
  expect(result.output).not.toMatch(/undefined/);
}, 60_000);

it("a failed start never reads `undefined`", () => {
  expect(describeFailure(undefined)).not.toMatch(/undefined/);
  expect(describeFailure({ code: "E1" })).toContain("E1");
  expect(describeFailure(new Error("boom"))).toMatch(/^Error: boom\n\s+at /);
});
