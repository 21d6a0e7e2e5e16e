import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Client } from "pg";
import { roleNames } from "../../src/db/roles";
import { DATA_DIR } from "../../src/paths";
import { DEFAULT_EMBEDDED_PORT } from "../../src/config";
import { CommandError } from "./connect";
import { freePort, portIsFree, startEmbeddedPostgres } from "./embedded";
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
/** The port this clone's cluster took last time, when the default was held by another program. */
const PORT_FILE = path.join(DATA_DIR, "embedded-port");

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

export interface PortChoice {
  port: number;
  /** This clone's cluster already listens there (e.g. `npm start` runs while a db:* command starts). */
  running: boolean;
}

export interface PortOptions {
  /** EMBEDDED_PG_PORT when set: used as it is, or refused when another program holds it. */
  requested?: number;
  /** Whether a server on `port` is this clone's cluster (our superuser password logs in). */
  ours: (port: number) => Promise<boolean>;
  log: (line: string) => void;
  file?: string;
  defaultPort?: number;
}

/**
 * The development cluster's port: EMBEDDED_PG_PORT when set; otherwise the one this clone
 * used last (.data/embedded-port), or 54329. When another program (another clone's
 * Postgres) holds it, a free port is taken instead and remembered, so the next start of
 * this clone finds its own cluster again.
 */
export async function chooseEmbeddedPort(options: PortOptions): Promise<PortChoice> {
  const { requested, ours, log, file = PORT_FILE, defaultPort = DEFAULT_EMBEDDED_PORT } = options;
  const remembered = existsSync(file) ? Number(readFileSync(file, "utf8").trim()) || undefined : undefined;
  const preferred = requested ?? remembered ?? defaultPort;
  if (await ours(preferred)) return { port: preferred, running: true };
  if (await portIsFree(preferred)) return { port: preferred, running: false };
  if (requested !== undefined) {
    throw new CommandError(
      `EMBEDDED_PG_PORT=${requested} is in use by another program: set EMBEDDED_PG_PORT to a free port, ` +
        `or unset it to let the embedded Postgres choose one`,
    );
  }
  const port = await freePort();
  log(
    `port ${preferred} is held by another program (another clone's Postgres?); ` +
      `the embedded Postgres takes port ${port} (remembered in ${path.relative(process.cwd(), file)})`,
  );
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${port}\n`);
  return { port, running: false };
}

/**
 * The development database: the embedded cluster in .data/postgres on a loopback port
 * (chooseEmbeddedPort; reused when another process, e.g. `npm start`, already runs it),
 * with the roles set up and the committed migrations applied.
 */
export async function startDevDatabase(
  requestedPort: number | undefined,
  log: (line: string) => void,
): Promise<DevDatabase> {
  const secrets = await loadDevSecrets();
  const rootUrlAt = (port: number) =>
    `postgres://postgres:${encodeURIComponent(secrets.superuserPassword)}@127.0.0.1:${port}/postgres`;
  const { port, running } = await chooseEmbeddedPort({
    requested: requestedPort,
    ours: (candidate) => accepts(rootUrlAt(candidate)),
    log,
  });
  const rootUrl = rootUrlAt(port);
  let stop = async () => {};
  if (!running) {
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
