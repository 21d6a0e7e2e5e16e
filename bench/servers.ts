/**
 * The systems under test, each in a child process of its own (so its memory and CPU
 * are its own): the API in production mode (src/main.ts) and the hand-written floor
 * (bench/floor.ts). Both get the same database, secret and pool size.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { freePort } from "../scripts/db/embedded";
import { ROOT_DIR } from "../src/paths";

export interface Server {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface ServerOptions {
  authUrl: string;
  secret: string;
  poolSize: number;
  logLevel: string;
  /** Settings applied last (e.g. the fairness bench restores production's request-rate limits). */
  env?: Record<string, string>;
}

export async function startServer(name: "api" | "floor", options: ServerOptions): Promise<Server> {
  const port = await freePort();
  const entry = name === "api" ? "src/main.ts" : "bench/floor.ts";
  // Node itself with tsx's loader (not the tsx CLI, a parent process): the pid is the server's.
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: ROOT_DIR,
    env: {
      ...process.env,
      NODE_ENV: "production",
      GRAPHILE_ENV: "production",
      AUTH_DATABASE_URL: options.authUrl,
      JWT_SECRET: options.secret,
      DATABASE_POOL_SIZE: String(options.poolSize),
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: options.logLevel,
      // The rate limits protect production from abuse; here they would only cap the measurement.
      RATE_LIMIT_USER_PER_MINUTE: "10000000",
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: "10000000",
      RATE_LIMIT_ROWS_PER_MINUTE: "1000000000000",
      ...options.env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await untilReady(child, `${url}/health/ready`, name);
  return {
    name,
    url,
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Polls readiness: the child's own signal that it has connected and built its schema. */
async function untilReady(child: ChildProcess, url: string, name: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} while starting`);
    const status = await fetch(url)
      .then((r) => r.status)
      .catch(() => 0);
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGTERM");
  throw new Error(`${name} did not become ready within 60 s`);
}

/** Resident memory of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
}
