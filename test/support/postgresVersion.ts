/**
 * `npm run test:pg15`: the whole suite against another Postgres major
 * version than the embedded 18 — by default Debian's PostgreSQL 15, the oldest
 * supported one — so the minimum version is proven by CI rather than assumed.
 *
 *   tsx test/support/postgresVersion.ts <major> [jest arguments …]
 *
 * Starts a throw-away cluster from /usr/lib/postgresql/<major>/bin (as the
 * `postgres` system user when run as root), runs jest with TEST_DATABASE_URL set
 * to its superuser (every suite unless jest arguments narrow it; the fault tests'
 * own extra clusters still use the embedded binaries),
 * then stops and deletes the cluster, and exits with jest's status.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { runCommand } from "../../scripts/db/command";
import { ROOT_DIR } from "../../src/paths";
import { startOwnCluster } from "./cluster";

async function serverVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ version: string }>("select version()")).rows[0]!.version;
  } finally {
    await client.end();
  }
}

function jest(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [require.resolve("jest/bin/jest"), ...args], {
      cwd: ROOT_DIR,
      env,
      stdio: "inherit",
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main([major = "15", ...jestArgs]: string[]): Promise<number> {
  const bin = `/usr/lib/postgresql/${major}/bin`;
  if (!existsSync(path.join(bin, "postgres"))) {
    process.stderr.write(`no Postgres ${major} server in ${bin}: apt-get install postgresql-${major}\n`);
    return 2;
  }
  const cluster = await startOwnCluster(`pg${major}`, { bin, migrated: false });
  // Ctrl-C reaches jest too (same process group); the cluster must still go.
  process.once("SIGINT", () => void cluster.destroy().finally(() => process.exit(130)));
  try {
    process.stderr.write(`test:pg${major}: ${await serverVersion(cluster.rootUrl)}\n`);
    return await jest(jestArgs, {
      ...process.env,
      TEST_DATABASE_URL: cluster.rootUrl,
    });
  } finally {
    await cluster.destroy();
  }
}

runCommand(() => main(process.argv.slice(2)));
