/**
 * graphile-migrate, driven from code: the db:* commands, the development database,
 * the tests and the benchmarks set up and migrate databases through this module.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Logger, migrate, reset, run, status, watch, type Settings } from "graphile-migrate";
// graphile-migrate keeps idle pools for 200 ms after each command and exits the
// process if one of them errors (e.g. the embedded server stopping): end them now.
import { clearAllPools } from "graphile-migrate/dist/pgReal";
import { Client, escapeIdentifier, escapeLiteral } from "pg";
import { readGmrc } from "../../src/db/roles";
import { ROOT_DIR } from "../../src/paths";
import { SHADOW_SUFFIX } from "./names";
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

const MIGRATIONS_DIR = path.join(ROOT_DIR, "migrations");

/** graphile-migrate's shadow database for a database: `<name>_shadow` on the same server, same owner. */
export function shadowUrl(ownerUrl: string): string {
  const name = decodeURIComponent(new URL(ownerUrl).pathname.slice(1));
  return connectionString(ownerUrl, { database: `${name}${SHADOW_SUFFIX}` });
}

/** .gmrc with this set-up's connections, independent of the working directory. */
function settingsFor(urls: DatabaseUrls): Settings {
  return {
    ...(readGmrc() as Settings),
    connectionString: urls.ownerUrl,
    rootConnectionString: urls.rootUrl,
    // `watch`, `commit` and `status` insist on a shadow database.
    shadowConnectionString: shadowUrl(urls.ownerUrl),
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
  // graphile-migrate creates the database from template1: refuse before dropping anything.
  await requireUtf8(connectionString(urls.rootUrl, { database: "template1" }), "ROOT_DATABASE_URL's cluster");
  await releasingPools(() => reset(settingsFor(urls)));
}

/** Applies pending committed migrations, creating the database first when it is missing. */
export async function migrateDatabase(urls: DatabaseUrls): Promise<void> {
  if (!(await databaseExists(urls))) {
    await resetDatabase(urls);
    return;
  }
  await requireUtf8(urls.ownerUrl, "DATABASE_URL");
  await releasingPools(() => migrate(settingsFor(urls)));
}

/**
 * Refuses a database that does not store UTF8: the migrations hold non-ASCII text and
 * Postgres cannot convert it to SQL_ASCII (a cluster initialised with no locale set).
 */
export async function requireUtf8(url: string, variable: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; encoding: string }>(
      "select current_database() as name, pg_encoding_to_char(encoding) as encoding from pg_database where datname = current_database()",
    );
    const { name, encoding } = rows[0]!;
    if (encoding !== "UTF8") throw new Error(notUtf8(name, encoding, variable));
  } finally {
    await client.end();
  }
}

export function notUtf8(name: string, encoding: string, variable: string): string {
  const fix =
    name === "template1"
      ? `new databases are created from template1, so initialise the cluster with \`initdb -E UTF8\``
      : `create the database with \`createdb -E UTF8 -T template0 ${name}\``;
  return (
    `database "${name}" (${variable}) uses the ${encoding} encoding; the Tasks API needs UTF8: ${fix}. ` +
    `For the embedded development database, delete .data/postgres and run the command again.`
  );
}

async function releasingPools<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } finally {
    clearAllPools();
  }
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
