/**
 * The benchmark's own Postgres: an embedded cluster in .data/bench-postgres on a fixed
 * port, kept between runs so a large scale is seeded once. Separate from the
 * development database so seeding millions of rows never touches it.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Client } from "pg";
import { startEmbeddedPostgres } from "../scripts/db/embedded";
import { migrateDatabase, setupRoles, type DatabaseUrls } from "../scripts/db/migrations";
import { roleNames } from "../src/db/roles";
import { OWNER_ROLE } from "../scripts/db/names";
import { connectionString } from "../scripts/db/urls";
import { DATA_DIR } from "../src/paths";

export interface BenchDatabase extends DatabaseUrls {
  /** The superuser on the bench database (seeding, EXPLAIN without RLS). */
  superuserUrl: string;
  /** Lines Postgres writes to its log while this process runs it (empty when it was already running). */
  onLog(listener: ((line: string) => void) | undefined): void;
  stop(): Promise<void>;
}

const SECRETS_FILE = path.join(DATA_DIR, "bench-secrets.json");
/**
 * Enough memory for the 10M-row scale to stay cached (the machine has far more), and
 * pg_stat_statements, for finding where the database's time goes.
 */
const SERVER_SETTINGS: Record<string, string> = {
  shared_buffers: "2GB",
  max_connections: "200",
  shared_preload_libraries: "pg_stat_statements",
};

interface Secrets {
  superuser: string;
  owner: string;
  authenticator: string;
}

async function secrets(): Promise<Secrets> {
  if (existsSync(SECRETS_FILE)) return JSON.parse(readFileSync(SECRETS_FILE, "utf8")) as Secrets;
  const make = () => randomBytes(18).toString("base64url");
  const fresh = { superuser: make(), owner: make(), authenticator: make() };
  await mkdir(DATA_DIR, { recursive: true });
  await writeFile(SECRETS_FILE, JSON.stringify(fresh, null, 2) + "\n", { mode: 0o600 });
  return fresh;
}

/** `database` is per scale (bench_10k, bench_1m …), so switching scales never reseeds the others. */
export async function startBenchDatabase(port: number, database: string): Promise<BenchDatabase> {
  const pw = await secrets();
  let listener: ((line: string) => void) | undefined;
  const start = () =>
    startEmbeddedPostgres({
      dataDir: path.join(DATA_DIR, "bench-postgres"),
      superuserPassword: pw.superuser,
      port,
      persistent: true,
      log: (line) => listener?.(line),
    });
  let cluster = await start();
  // Server settings need a restart; done once, the first time the cluster starts.
  if (await applyServerSettings(cluster.rootUrl)) {
    await cluster.stop();
    cluster = await start();
  }
  const urls: DatabaseUrls = {
    rootUrl: cluster.rootUrl,
    ownerUrl: connectionString(cluster.rootUrl, { user: OWNER_ROLE, password: pw.owner, database }),
    authUrl: connectionString(cluster.rootUrl, {
      user: roleNames().authenticator,
      password: pw.authenticator,
      database,
    }),
  };
  await setupRoles(urls);
  await migrateDatabase(urls);
  return {
    ...urls,
    superuserUrl: connectionString(cluster.rootUrl, { database }),
    onLog: (fn) => (listener = fn),
    stop: () => cluster.stop(),
  };
}

/** True when a setting changed and the server must restart to apply it. */
async function applyServerSettings(rootUrl: string): Promise<boolean> {
  const client = new Client({ connectionString: rootUrl });
  await client.connect();
  try {
    let changed = false;
    for (const [name, value] of Object.entries(SERVER_SETTINGS)) {
      const { rows } = await client.query<{ setting: string }>(
        "select setting from pg_file_settings where name = $1 and applied",
        [name],
      );
      if (rows[0]?.setting !== value) {
        await client.query(`alter system set ${name} = '${value}'`);
        changed = true;
      }
    }
    return changed;
  } finally {
    await client.end();
  }
}
