import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Client } from "pg";
import { roleNames } from "../../src/db/roles";
import { DATA_DIR } from "../../src/paths";
import { startEmbeddedPostgres } from "./embedded";
import { migrateDatabase, setupRoles, shadowUrl, type DatabaseUrls } from "./migrations";
import { DATABASE_NAME, OWNER_ROLE } from "./names";
import { connectionString } from "./urls";

/** Secrets of the local development set-up, generated once and kept in .data/. */
export interface DevSecrets {
  superuserPassword: string;
  ownerPassword: string;
  authenticatorPassword: string;
  /** HS256 secret for development tokens (`npm run token`). */
  jwtSecret: string;
}

const SECRETS_FILE = path.join(DATA_DIR, "dev-secrets.json");

export async function loadDevSecrets(): Promise<DevSecrets> {
  if (existsSync(SECRETS_FILE)) {
    return JSON.parse(readFileSync(SECRETS_FILE, "utf8")) as DevSecrets;
  }
  const secret = (bytes: number) => randomBytes(bytes).toString("base64url");
  const secrets: DevSecrets = {
    superuserPassword: secret(24),
    ownerPassword: secret(24),
    authenticatorPassword: secret(24),
    jwtSecret: secret(48),
  };
  await mkdir(DATA_DIR, { recursive: true });
  await writeFile(SECRETS_FILE, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  return secrets;
}

export interface DevDatabase extends DatabaseUrls {
  /** graphile-migrate's shadow database, for `watch` and `commit`. */
  shadowUrl: string;
  stop(): Promise<void>;
}

/**
 * The development database: the embedded cluster in .data/postgres on a fixed
 * loopback port (reused when another process, e.g. `npm start`, already runs it),
 * with the roles set up and the committed migrations applied.
 */
export async function startDevDatabase(port: number, log: (line: string) => void): Promise<DevDatabase> {
  const secrets = await loadDevSecrets();
  const rootUrl = `postgres://postgres:${encodeURIComponent(secrets.superuserPassword)}@127.0.0.1:${port}/postgres`;
  let stop = async () => {};
  if (!(await accepts(rootUrl))) {
    log(`starting the embedded Postgres (data in ${path.relative(process.cwd(), DATA_DIR)}/postgres, port ${port})`);
    const cluster = await startEmbeddedPostgres({
      dataDir: path.join(DATA_DIR, "postgres"),
      superuserPassword: secrets.superuserPassword,
      port,
      persistent: true,
    });
    stop = cluster.stop;
  }
  const urls: DatabaseUrls = {
    rootUrl,
    ownerUrl: connectionString(rootUrl, {
      user: OWNER_ROLE,
      password: secrets.ownerPassword,
      database: DATABASE_NAME,
    }),
    authUrl: connectionString(rootUrl, {
      user: roleNames().authenticator,
      password: secrets.authenticatorPassword,
      database: DATABASE_NAME,
    }),
  };
  await setupRoles(urls);
  await migrateDatabase(urls);
  return { ...urls, shadowUrl: shadowUrl(urls.ownerUrl), stop };
}

async function accepts(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false; // nothing listening (or not ours): start our own
  } finally {
    await client.end().catch(() => {});
  }
}
