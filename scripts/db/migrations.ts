import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import JSON5 from "json5";
import { Logger, migrate, reset, run, status, watch, type Settings } from "graphile-migrate";
// graphile-migrate keeps idle pools for 200 ms after each command and exits the
// process if one of them errors (e.g. the embedded server stopping): end them now.
import { clearAllPools } from "graphile-migrate/dist/pgReal";
import { Client, escapeIdentifier, escapeLiteral } from "pg";
import { ROOT_DIR } from "../paths";
import { connectionString } from "./urls";

/** The three connections a database set-up needs. */
export interface DatabaseUrls {
  /** A superuser: creates roles and the database. */
  rootUrl: string;
  /** The owner: runs migrations. */
  ownerUrl: string;
  /** The authenticator: what the API logs in as. */
  authUrl: string;
}

const GMRC_PATH = path.join(ROOT_DIR, ".gmrc");
const MIGRATIONS_DIR = path.join(ROOT_DIR, "migrations");

/** .gmrc as graphile-migrate reads it (JSON5). */
export function readGmrc(): Settings {
  return JSON5.parse(readFileSync(GMRC_PATH, "utf8")) as Settings;
}

export interface RoleNames {
  authenticator: string;
  user: string;
  anonymous: string;
}

/** Role names come from .gmrc's placeholders only, so migrations and the API agree. */
export function roleNames(gmrc: Settings = readGmrc()): RoleNames {
  const placeholder = (key: string): string => {
    const value = gmrc.placeholders?.[key];
    if (!value || value === "!ENV") {
      throw new Error(`.gmrc must give the placeholder ${key} a role name`);
    }
    return value;
  };
  return {
    authenticator: placeholder(":DATABASE_AUTHENTICATOR"),
    user: placeholder(":DATABASE_USER"),
    anonymous: placeholder(":DATABASE_ANONYMOUS"),
  };
}

/** .gmrc with this set-up's connections, independent of the working directory. */
function settingsFor(urls: DatabaseUrls): Settings {
  return {
    ...readGmrc(),
    connectionString: urls.ownerUrl,
    rootConnectionString: urls.rootUrl,
    // `watch`, `commit` and `status` insist on a shadow database: `<name>_shadow` beside the real one.
    shadowConnectionString: connectionString(urls.ownerUrl, {
      database: `${decodeURIComponent(new URL(urls.ownerUrl).pathname.slice(1))}_shadow`,
    }),
    migrationsFolder: MIGRATIONS_DIR,
    logger: quietLogger,
  };
}

/**
 * Creates or restates the roles (migrations/roles.sql, run as the superuser), then
 * sets the owner's and authenticator's login passwords from their connection strings.
 */
export async function setupRoles(urls: DatabaseUrls): Promise<void> {
  const file = path.join(MIGRATIONS_DIR, "roles.sql");
  await releasingPools(() => run(settingsFor(urls), readFileSync(file, "utf8"), file, { rootDatabase: true }));
  const client = new Client({ connectionString: urls.rootUrl });
  await client.connect();
  try {
    for (const url of [urls.ownerUrl, urls.authUrl]) {
      const { username, password } = new URL(url);
      if (password) {
        await client.query(
          `alter role ${escapeIdentifier(decodeURIComponent(username))} password ${escapeLiteral(decodeURIComponent(password))}`,
        );
      }
    }
  } finally {
    await client.end();
  }
}

/** Drops and recreates the database from the committed migrations. Destroys data. */
export async function resetDatabase(urls: DatabaseUrls): Promise<void> {
  await releasingPools(() => reset(settingsFor(urls)));
}

/** Applies pending committed migrations, creating the database first when it is missing. */
export async function migrateDatabase(urls: DatabaseUrls): Promise<void> {
  if (!(await databaseExists(urls))) {
    await resetDatabase(urls);
    return;
  }
  await releasingPools(() => migrate(settingsFor(urls)));
}

async function releasingPools<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } finally {
    clearAllPools();
  }
}

/** The `--! Hash:` of the newest committed migration: the level this code expects the database at. */
export function latestCommittedMigrationHash(): string {
  const dir = path.join(MIGRATIONS_DIR, "committed");
  const newest = readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort()
    .at(-1);
  const hash = newest && /^--! Hash: (\S+)$/m.exec(readFileSync(path.join(dir, newest), "utf8"))?.[1];
  if (!hash) throw new Error(`no committed migration with a hash in ${dir}`);
  return hash;
}

/** Committed migrations not yet applied, and whether current.sql holds anything. */
export async function migrationStatus(urls: DatabaseUrls) {
  return releasingPools(() => status(settingsFor(urls)));
}

/** Runs migrations/current.sql once, as `db:watch` does on every save. */
export async function runCurrentMigration(urls: DatabaseUrls): Promise<void> {
  await releasingPools(() => watch(settingsFor(urls), true));
}

async function databaseExists(urls: DatabaseUrls): Promise<boolean> {
  const name = decodeURIComponent(new URL(urls.ownerUrl).pathname.slice(1));
  const client = new Client({ connectionString: urls.rootUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

/** graphile-migrate logs every step at info level; only its warnings and errors matter here. */
const quietLogger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") process.stderr.write(`graphile-migrate: ${message}\n`);
});
