/*
 * `npm start` as a user runs it (scripts/start.ts in a child process): it serves
 * GraphQL and GraphiQL, `npm run token` mints a token it accepts, and SIGTERM
 * stops it cleanly. The embedded-database path is exercised by CI's fresh clone.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "../../scripts/db/embedded";
import { Client } from "pg";
import { ROOT_DIR } from "../../src/paths";
import { testDb } from "../support/env";
import { testSecret } from "../support/tokens";

const TSX = path.join(ROOT_DIR, "node_modules", ".bin", "tsx");
const secret = testSecret();
let child: ChildProcess;
let url: string;
let exit: Promise<number | null>;

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(TSX, ["scripts/start.ts"], {
    cwd: ROOT_DIR,
    env: {
      ...process.env,
      AUTH_DATABASE_URL: testDb.authUrl,
      JWT_SECRET: secret,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  exit = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Tasks API listening")) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
}, 60_000);

afterAll(() => {
  if (child.exitCode === null) child.kill("SIGKILL");
});

it("serves GraphiQL in development", async () => {
  const response = await fetch(`${url}/graphiql`);
  expect(response.status).toBe(200);
  expect(await response.text()).toContain("<html");
});

it("accepts a token from `npm run token` and runs the README's example", async () => {
  const minted = spawnSync(TSX, ["scripts/token.ts", "readme-user"], {
    cwd: ROOT_DIR,
    env: { ...process.env, JWT_SECRET: secret },
  });
  const token = minted.stdout.toString().trim();
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: `mutation { createTask(input: { task: { title: "Try the API" } }) { task { title userId } } }`,
    }),
  });
  expect(await response.json()).toEqual({
    data: { createTask: { task: { title: "Try the API", userId: "readme-user" } } },
  });
});

it("answers unknown paths with a JSON 404", async () => {
  const response = await fetch(`${url}/nope`);
  expect(response.status).toBe(404);
  expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: "NOT_FOUND" } }] });
});

it("exits 0 on SIGTERM", async () => {
  child.kill("SIGTERM");
  expect(await exit).toBe(0);
});

it("exits 1 with a clear message when the database refuses its password", () => {
  const wrong = new URL(testDb.authUrl);
  wrong.password = "not-the-password";
  const run = spawnSync(TSX, ["scripts/start.ts"], {
    cwd: ROOT_DIR,
    env: { ...process.env, NODE_ENV: "production", AUTH_DATABASE_URL: wrong.toString(), JWT_SECRET: secret, PORT: "0" },
    timeout: 30_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr.toString()).toMatch(/cannot connect to AUTH_DATABASE_URL: password authentication failed/);
  expect(run.stderr.toString()).not.toContain("not-the-password");
});

describe("refuses to log in as a role row-level security does not bind", () => {
  const startAs = (url: string, extra: Record<string, string> = {}) => {
    const run = spawnSync(TSX, ["scripts/start.ts"], {
      cwd: ROOT_DIR,
      env: { ...process.env, NODE_ENV: "production", AUTH_DATABASE_URL: url, JWT_SECRET: secret, PORT: "0", ...extra },
      timeout: 30_000,
    });
    return { status: run.status, stderr: run.stderr.toString() };
  };

  it("a superuser", () => {
    const { status, stderr } = startAs(testDb.superuserUrl);
    expect(status).toBe(1);
    expect(stderr).toMatch(
      /refuses to start: AUTH_DATABASE_URL logs in as "\w+", a superuser.*log in as tasks_authenticator instead/,
    );
  });

  it("the tables' owner, also as LISTEN_DATABASE_URL", () => {
    const owner = startAs(testDb.ownerUrl);
    expect(owner.status).toBe(1);
    expect(owner.stderr).toMatch(/AUTH_DATABASE_URL logs in as "tasks_owner", which owns the tables/);
    const listener = startAs(testDb.authUrl, { LISTEN_DATABASE_URL: testDb.ownerUrl });
    expect(listener.status).toBe(1);
    expect(listener.stderr).toMatch(/LISTEN_DATABASE_URL logs in as "tasks_owner", which owns the tables/);
  });

  it("a login that is not the authenticator, even without any power", async () => {
    const client = new Client({ connectionString: testDb.superuserUrl });
    await client.connect();
    const role = `stranger_${process.pid}`;
    const database = new URL(testDb.authUrl).pathname.slice(1);
    try {
      await client.query(`create role ${role} login password 'stranger-pw'`);
      await client.query(`grant connect on database ${database} to ${role}`);
      const url = new URL(testDb.authUrl);
      url.username = role;
      url.password = "stranger-pw";
      const { status, stderr } = startAs(url.toString());
      expect(status).toBe(1);
      expect(stderr).toMatch(new RegExp(`AUTH_DATABASE_URL logs in as "${role}", not the authenticator`));
    } finally {
      await client.query(`revoke connect on database ${database} from ${role}`).catch(() => {});
      await client.query(`drop role if exists ${role}`);
      await client.end();
    }
  });
});

it("exits 1 naming each missing setting in production", () => {
  const run = spawnSync(TSX, ["scripts/start.ts"], {
    cwd: ROOT_DIR,
    env: { ...process.env, NODE_ENV: "production", AUTH_DATABASE_URL: "", JWT_SECRET: "" },
    timeout: 30_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr.toString()).toMatch(/AUTH_DATABASE_URL is required in production/);
  expect(run.stderr.toString()).toMatch(
    /one of JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL or JWT_ISSUER \(discovery\) is required in production/,
  );
});

it("starts the production entry (src/main.ts) only with a database and a key, whatever NODE_ENV says", () => {
  const run = spawnSync(TSX, ["src/main.ts"], {
    cwd: ROOT_DIR,
    env: { ...process.env, NODE_ENV: "development", AUTH_DATABASE_URL: "", JWT_SECRET: "" },
    timeout: 30_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr.toString()).toMatch(
    /needs AUTH_DATABASE_URL and one of JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL or JWT_ISSUER/,
  );
});
