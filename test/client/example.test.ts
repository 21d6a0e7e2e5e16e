/*
 * The client developer's story (examples/client): its generated code matches the
 * committed schema.graphql, it type-checks, and run as a user would run it — a child
 * process with a real token against the real API — it does what it prints, as the
 * database (read as the superuser) confirms.
 */
import { execFile } from "node:child_process";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "pg";
import { makeClient, run as runOperation } from "../../examples/client/src/client";
import { CreateTask } from "../../examples/client/src/operations";
import { writeTrustedDocuments } from "../../examples/client/src/trustedDocuments";
import { ROOT_DIR } from "../../src/paths";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { hmacKey, newUser, sign, testSecret, uniqueSub } from "../support/tokens";

const bin = (relative: string) => path.join(ROOT_DIR, "node_modules", relative);
const CODEGEN = bin("@graphql-codegen/cli/esm/bin.js");
const TSC = bin("typescript/bin/tsc");
const TSX = bin("tsx/dist/cli.mjs");
const EXAMPLE = path.join(ROOT_DIR, "examples", "client", "src", "main.ts");

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a Node program the way `npm run` would (this Node, the repository as working directory). */
function node(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: ROOT_DIR, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

const runExample = (api: TestApi, token: string, flags: string[] = ["--json"]) =>
  node([TSX, EXAMPLE, "--url", `${api.url}/graphql`, "--token", token, ...flags]);

const jsonLines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, any>);

let api: TestApi;
let db: Client;

beforeAll(async () => {
  api = await startApi();
  db = new Client({ connectionString: testDb.superuserUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await api?.close();
});

it("has generated code that matches schema.graphql and its documents (else run `npm run client:codegen`)", async () => {
  const run = await node([CODEGEN, "--config", "examples/client/codegen.ts", "--check"]);
  expect(run).toEqual({ status: 0, stdout: run.stdout, stderr: run.stderr }); // the stale files shown when it fails
});

it("type-checks with its own tsconfig", async () => {
  const run = await node([TSC, "-p", "examples/client"]);
  expect(run.stdout + run.stderr).toBe("");
  expect(run.status).toBe(0);
});

it("signs in, creates, pages through, completes, edits through a conflict and aggregates tasks, and the database agrees", async () => {
  const { sub, token } = await newUser("client");
  const run = await runExample(api, token);
  expect(run).toEqual({ status: 0, stdout: run.stdout, stderr: "" }); // stdout shown when it fails
  const events = jsonLines(run.stdout);
  expect(events.map((event) => event.step)).toEqual([
    "signedIn",
    "createdList",
    "createdTask",
    "createdTask",
    "createdTask",
    "listedPage",
    "listedPage",
    "completedTask",
    "otherDeviceEdited",
    "conflict",
    "editedTask",
    "aggregated",
  ]);
  const [signedIn, list, ...rest] = events;
  const created = rest.filter((event) => event.step === "createdTask");
  const pages = rest.filter((event) => event.step === "listedPage");
  const completed = rest.find((event) => event.step === "completedTask")!;
  const aggregated = rest.find((event) => event.step === "aggregated")!;
  const [phone, conflict, edited] = ["otherDeviceEdited", "conflict", "editedTask"].map((step) =>
    rest.find((event) => event.step === step)!,
  );
  expect(signedIn).toEqual({ step: "signedIn", userId: sub });

  // Pages of two, in creation order, together exactly the tasks created.
  expect(
    pages.map(({ rowIds, totalCount, hasNextPage }) => ({ size: rowIds.length, totalCount, hasNextPage })),
  ).toEqual([
    { size: 2, totalCount: 3, hasNextPage: true },
    { size: 1, totalCount: 3, hasNextPage: false },
  ]);
  expect(pages.flatMap((page) => page.rowIds)).toEqual(created.map((task) => task.rowId));
  expect(completed.rowId).toBe(created[0]!.rowId);

  // What the database holds for this user, seen past RLS.
  const lists = await db.query("select id, name from app_public.lists where user_id = $1", [sub]);
  expect(lists.rows).toEqual([{ id: list!.rowId, name: list!.name }]);
  const tasks = await db.query<{ id: string; list_id: string; priority: string; completed_at: Date | null }>(
    "select id, list_id, priority::text, completed_at from app_public.tasks where user_id = $1 order by created_at, id",
    [sub],
  );
  expect(tasks.rows.map((task) => task.id)).toEqual(created.map((task) => task.rowId));
  expect(new Set(tasks.rows.map((task) => task.list_id))).toEqual(new Set([list!.rowId]));
  const done = tasks.rows.filter((task) => task.completed_at !== null);
  expect(done.map((task) => task.id)).toEqual([completed.rowId]);
  expect(done[0]!.completed_at!.getTime()).toBe(new Date(completed.completedAt).getTime());

  // The edit that met another device's write: CONFLICT at version 2, read again, both changes kept.
  const quarterly = created[1]!.rowId;
  expect(phone).toEqual({ step: "otherDeviceEdited", rowId: quarterly, title: "Write the Q3 report" });
  expect(conflict).toEqual({ step: "conflict", rowId: quarterly, expectedVersion: 1, currentVersion: 2 });
  expect(edited).toEqual({
    step: "editedTask",
    rowId: quarterly,
    title: "Write the Q3 report (reviewed)",
    version: 3,
    attempts: 2,
  });
  const { rows: stored } = await db.query("select title, priority::text, version from app_public.tasks where id = $1", [
    quarterly,
  ]);
  expect(stored).toEqual([{ title: "Write the Q3 report (reviewed)", priority: "urgent", version: 3 }]);

  // The aggregates the client printed are the database's counts.
  const byPriority: Record<string, number> = {};
  for (const task of tasks.rows) byPriority[task.priority] = (byPriority[task.priority] ?? 0) + 1;
  expect(aggregated).toEqual({
    step: "aggregated",
    total: tasks.rows.length,
    open: tasks.rows.length - done.length,
    byCompleted: { true: done.length, false: tasks.rows.length - done.length },
    byPriority,
  });
});

it("prints readable sentences without --json", async () => {
  const run = await runExample(api, (await newUser("reader")).token, []);
  expect(run.status).toBe(0);
  const lines = run.stdout.trim().split("\n");
  expect(lines[0]).toMatch(/^signed in as reader-/);
  expect(lines).toContain("page 2: 1 of 3 tasks");
  expect(lines.at(-1)).toMatch(/^3 tasks, 2 open; /);
});

it("reports a refused token by its error code and exits 1, without a stack trace", async () => {
  const forged = await sign({ sub: uniqueSub("forger") }, hmacKey(testSecret()));
  const run = await runExample(api, forged);
  expect(run.status).toBe(1);
  expect(run.stderr).toBe("");
  expect(jsonLines(run.stdout)).toEqual([{ step: "failed", code: "UNAUTHENTICATED", message: expect.any(String) }]);
});

describe("against a server that runs only trusted documents", () => {
  let trusted: TestApi;
  beforeAll(async () => {
    const directory = mkdtempSync(path.join(tmpdir(), "client-trusted-"));
    writeTrustedDocuments(directory);
    trusted = await startApi({
      production: true,
      env: { TRUSTED_DOCUMENTS_DIR: directory },
    });
  });
  afterAll(() => trusted?.close());

  it("completes the same story sending only the generated documents' hashes (--persisted)", async () => {
    const { sub, token } = await newUser("persisted");
    const run = await runExample(trusted, token, ["--json", "--persisted"]);
    expect(run).toEqual({ status: 0, stdout: run.stdout, stderr: "" }); // stdout shown when it fails
    const events = jsonLines(run.stdout);
    expect(events[0]).toEqual({ step: "signedIn", userId: sub });
    expect(events.at(-1)).toMatchObject({ step: "aggregated", total: 3, open: 2 });
    const { rows } = await db.query("select count(*)::int as n from app_public.tasks where user_id = $1", [sub]);
    expect(rows).toEqual([{ n: 3 }]);
  });

  it("is refused with UNTRUSTED_DOCUMENT when it sends document text instead", async () => {
    const run = await runExample(trusted, (await newUser("text")).token);
    expect(run.status).toBe(1);
    expect(jsonLines(run.stdout)).toEqual([
      { step: "failed", code: "UNTRUSTED_DOCUMENT", message: expect.any(String) },
    ]);
  });
});

/**
 * A proxy in front of the API that forwards every request but, for the first `drop`, throws the
 * answer away and destroys the client's socket: the mutation ran, its response was lost.
 */
async function lossyProxy(target: string, drop: number) {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const dropThis = seen.length <= drop;
    const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      if (dropThis) {
        answer.resume();
        answer.on("end", () => res.socket?.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

it("sends every mutation with a fresh Idempotency-Key and retries a lost answer with the same key: one write", async () => {
  const { sub, token } = await newUser("lossy");
  const proxy = await lossyProxy(api.url, 1);
  try {
    const client = makeClient({ url: proxy.url, token });
    const title = `retried ${sub}`;

    const { createTask } = await runOperation(client, CreateTask, { task: { title } }, { backoffMs: 10 });

    expect(createTask?.task?.title).toBe(title);
    expect(proxy.seen).toHaveLength(2);
    const [first, retry] = proxy.seen.map((headers) => headers["idempotency-key"]);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(retry).toBe(first);
    const { rows } = await db.query("select id from app_public.tasks where user_id = $1 and title = $2", [sub, title]);
    expect(rows).toEqual([{ id: createTask?.task?.rowId }]);

    // The next mutation is a new change: a new key.
    await runOperation(client, CreateTask, { task: { title: `${title} 2` } });
    expect(proxy.seen[2]?.["idempotency-key"]).not.toBe(first);
  } finally {
    await proxy.close();
  }
});
