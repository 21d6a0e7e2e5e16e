/**
 * Real processes for identity tests: the test issuer (test/support/issuer.ts) and
 * the API through its production entry (src/main.ts), each started with tsx as a
 * user would, talking over HTTP on loopback ports.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { JWTPayload } from "jose";
import { freePort } from "../../scripts/db/embedded";
import { ROOT_DIR } from "../../src/paths";
import { testDb } from "./env";

const TSX = path.join(ROOT_DIR, "node_modules", ".bin", "tsx");

interface Child {
  process: ChildProcess;
  /** Everything it wrote, stdout and stderr. */
  output(): string;
  /** Its exit code, once it exits. */
  exit: Promise<number | null>;
  stop(): Promise<void>;
}

function run(script: string, env: Record<string, string | undefined>): Child {
  const child = spawn(TSX, [script], {
    cwd: ROOT_DIR,
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    process: child,
    output: () => output,
    exit,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exit;
    },
  };
}

/** Resolves once `child` has written a line matching `pattern`; rejects if it exits first. */
function waitForLine(child: Child, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const line = child
        .output()
        .split("\n")
        .find((candidate) => pattern.test(candidate));
      if (line !== undefined) {
        child.process.stdout!.off("data", check);
        child.process.stderr!.off("data", check);
        resolve(line);
      }
    };
    child.process.stdout!.on("data", check);
    child.process.stderr!.on("data", check);
    void child.exit.then((code) =>
      reject(new Error(`${what} exited with ${code} before it was ready:\n${child.output()}`)),
    );
    check();
  });
}

export interface Issuer {
  url: string;
  keysUrl: string;
  issuer: string;
  /** A token signed by this issuer; `iss` and a 10-minute `exp` unless `claims` says otherwise. */
  mint(claims: JWTPayload, alg?: "EdDSA" | "RS256"): Promise<string>;
  stats(): Promise<{ jwks: number; discovery: number }>;
  stop(): Promise<void>;
}

export interface IssuerOptions {
  port?: number;
  issuer?: string;
  documentIssuer?: string;
  /** Serve the key set from another port (another origin). */
  keysPort?: number;
}

export async function startIssuer(options: IssuerOptions = {}): Promise<Issuer> {
  const child = run("test/support/issuer.ts", {
    PATH: process.env.PATH,
    ISSUER_PORT: String(options.port ?? 0),
    ISSUER: options.issuer,
    DOCUMENT_ISSUER: options.documentIssuer,
    KEYS_PORT: options.keysPort === undefined ? undefined : String(options.keysPort),
  });
  const line = await waitForLine(child, /^\{"url"/, "the issuer");
  const { url, keysUrl, issuer } = JSON.parse(line) as { url: string; keysUrl: string; issuer: string };
  return {
    url,
    keysUrl,
    issuer,
    async mint(claims, alg = "EdDSA") {
      const response = await fetch(`${url}/token`, { method: "POST", body: JSON.stringify({ claims, alg }) });
      return ((await response.json()) as { token: string }).token;
    },
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as { jwks: number; discovery: number },
    stop: () => child.stop(),
  };
}

export interface ApiProcess {
  url: string;
  output(): string;
  exit: Promise<number | null>;
  /** GET /health/ready: its status and the keys check's text. */
  readiness(): Promise<{ status: number; keys: string | undefined }>;
  /** Polls readiness until 200; the milliseconds it took, or a rejection after `withinMs`. */
  becomesReady(withinMs: number): Promise<number>;
  whoAmI(token: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/**
 * The API as deployed: `tsx src/main.ts` with the test database and `env` (the JWT
 * settings). Resolves once it listens, or with `exit` settled when it refuses to start.
 */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const { child, port } = await runApi(env);
  const url = `http://127.0.0.1:${port}`;
  const api: ApiProcess = {
    url,
    output: child.output,
    exit: child.exit,
    async readiness() {
      const response = await fetch(`${url}/health/ready`);
      const body = (await response.json()) as { checks: Record<string, string> };
      return { status: response.status, keys: body.checks.keys };
    },
    async becomesReady(withinMs) {
      const started = Date.now();
      while (Date.now() - started < withinMs) {
        if ((await api.readiness()).status === 200) return Date.now() - started;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`not ready within ${withinMs} ms: ${JSON.stringify(await api.readiness())}\n${child.output()}`);
    },
    async whoAmI(token) {
      const response = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: "{ currentUserId }" }),
      });
      return { status: response.status, body: await response.json() };
    },
    stop: () => child.stop(),
  };
  await waitForLine(child, /Tasks API listening/, "the API");
  return api;
}

/** Starts the API expecting it to refuse: resolves with its exit code and output. */
export async function refusedApiProcess(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { child } = await runApi(env);
  const code = await child.exit;
  return { code, output: child.output() };
}

/** src/main.ts on a free port with the test database; only `env`'s JWT settings, none inherited. */
async function runApi(env: Record<string, string>): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const inherited = { ...process.env };
  for (const name of ["JWT_SECRET", "JWT_PUBLIC_KEY", "JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "NODE_ENV"]) {
    delete inherited[name];
  }
  const child = run("src/main.ts", {
    ...inherited,
    AUTH_DATABASE_URL: testDb.authUrl,
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "info",
    ...env,
  });
  return { child, port };
}
