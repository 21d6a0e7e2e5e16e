/**
 * `npm run db:<command>`: graphile-migrate with the connections filled in.
 *
 * With DATABASE_URL set (a DBA's or CI's server), this is graphile-migrate with the
 * environment as it is, after checking the connection strings. Without it, outside
 * production, the commands run against the embedded development database.
 *
 *   db:setup     create/restate the roles (migrations/roles.sql), set their passwords,
 *                create the database if missing, apply committed migrations
 *   migrate      apply committed migrations
 *   db:watch     re-run migrations/current.sql on every save
 *   db:commit    turn current.sql into the next committed migration
 *   db:reset     drop and recreate the database from committed migrations; refused in
 *                production and against another machine unless given --force
 *   db:status    is anything uncommitted or unapplied?
 */
import { spawnSync } from "node:child_process";
import { createInterface } from "node:readline/promises";
import { Client } from "pg";
import { ROOT_DIR } from "../../src/paths";
import { runCommand, withDevDatabase } from "./command";
import { checkConnection, CommandError, hostOf, isLocal, postgresUrl } from "./connect";
import { migrateDatabase, requireUtf8, resetDatabase, setupRoles } from "./migrations";

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command] = args;
  if (command === "setup") return setup(env);
  if (command === "reset") return resetCommand(args, env);
  const ownerUrl = postgresUrl("DATABASE_URL", env.DATABASE_URL);
  await checkConnection("DATABASE_URL", ownerUrl);
  if (command === "migrate" || command === "watch") await requireUtf8(ownerUrl, "DATABASE_URL");
  const cli = require.resolve("graphile-migrate/dist/cli.js");
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: ROOT_DIR, env, stdio: "inherit" });
  return result.status ?? 1;
}

async function setup(env: NodeJS.ProcessEnv): Promise<number> {
  const rootUrl = postgresUrl("ROOT_DATABASE_URL", env.ROOT_DATABASE_URL);
  const ownerUrl = postgresUrl("DATABASE_URL", env.DATABASE_URL);
  const authUrl = postgresUrl("AUTH_DATABASE_URL", env.AUTH_DATABASE_URL);
  await checkConnection("ROOT_DATABASE_URL", rootUrl);
  const urls = { rootUrl, ownerUrl, authUrl };
  await setupRoles(urls);
  await migrateDatabase(urls);
  process.stderr.write("roles set up, database migrated\n");
  return 0;
}

/**
 * Drops and recreates the database. On this machine outside production the npm script's
 * --erase (and a y/N question at a terminal) confirms it; in production or against another
 * host it takes --force too, and at a terminal the database's name typed back.
 */
async function resetCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const rootUrl = postgresUrl("ROOT_DATABASE_URL", env.ROOT_DATABASE_URL);
  const ownerUrl = postgresUrl("DATABASE_URL", env.DATABASE_URL);
  const database = decodeURIComponent(new URL(ownerUrl).pathname.slice(1));
  const risks = [
    env.NODE_ENV === "production" && "NODE_ENV=production",
    !isLocal(ownerUrl) && `DATABASE_URL is on ${hostOf(ownerUrl)}, not this machine`,
    !isLocal(rootUrl) && `ROOT_DATABASE_URL is on ${hostOf(rootUrl)}, not this machine`,
  ].filter((risk): risk is string => Boolean(risk));
  if (!args.includes("--erase")) {
    throw new CommandError(
      `db:reset destroys database "${database}"; run it as \`npm run db:reset\` (which adds --erase)`,
    );
  }
  if (risks.length > 0 && !args.includes("--force")) {
    throw new CommandError(
      `db:reset refused: it would drop database "${database}" and all its data, and ${risks.join("; ")}. ` +
        `If that is really meant, run \`npm run db:reset -- --force\`.`,
    );
  }
  if (process.stdin.isTTY) {
    const question =
      risks.length > 0
        ? `Type the database's name (${database}) to drop and recreate it: `
        : `Drop and recreate database "${database}" on ${hostOf(ownerUrl)}, losing its data? [y/N] `;
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    const answer = (await prompt.question(question)).trim();
    prompt.close();
    if (risks.length > 0 ? answer !== database : !/^y(es)?$/i.test(answer)) {
      process.stderr.write("db:reset: nothing dropped\n");
      return 1;
    }
  }
  await checkConnection("ROOT_DATABASE_URL", rootUrl);
  await refuseWhileConnected(rootUrl, database);
  try {
    await resetDatabase({ rootUrl, ownerUrl, authUrl: env.AUTH_DATABASE_URL ?? ownerUrl });
  } catch (error) {
    // Someone connected between the check and the drop.
    if ((error as { code?: string }).code === "55006" || /being accessed by other users/.test(String(error))) {
      throw new CommandError(stopFirst(database));
    }
    throw error;
  }
  process.stderr.write(`db:reset: database "${database}" recreated from the committed migrations\n`);
  return 0;
}

const stopFirst = (database: string) =>
  `db:reset cannot drop database "${database}" while other sessions use it: ` +
  `stop the API first (or whatever holds connections: psql, another npm start, a GUI client)`;

/** Postgres refuses to drop a database in use (55006); say so before graphile-migrate tries. */
async function refuseWhileConnected(rootUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: rootUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ sessions: number }>(
      "select count(*)::int as sessions from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
      [database],
    );
    if (rows[0]!.sessions > 0) throw new CommandError(`${stopFirst(database)} (${rows[0]!.sessions} open)`);
  } finally {
    await client.end();
  }
}

runCommand(async () => {
  const args = process.argv.slice(2);
  if (process.env.DATABASE_URL) return run(args, process.env);
  return withDevDatabase(process.env, async (db) =>
    run(args, {
      ...process.env,
      DATABASE_URL: db.ownerUrl,
      ROOT_DATABASE_URL: db.rootUrl,
      SHADOW_DATABASE_URL: db.shadowUrl,
      AUTH_DATABASE_URL: db.authUrl,
    }),
  );
});
