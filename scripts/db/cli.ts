/**
 * `npm run db:<command>`: graphile-migrate with the connections filled in.
 *
 * With DATABASE_URL set (a DBA's or CI's server), this is plain graphile-migrate
 * and the environment is used as it is. Without it, outside production, the
 * commands run against the embedded development database.
 *
 *   db:setup     create/restate the roles (migrations/roles.sql), set their passwords,
 *                create the database if missing, apply committed migrations
 *   migrate      apply committed migrations
 *   db:watch     re-run migrations/current.sql on every save
 *   db:commit    turn current.sql into the next committed migration
 *   db:reset     drop and recreate the database from committed migrations
 *   db:status    is anything uncommitted or unapplied?
 */
import { spawnSync } from "node:child_process";
import { ROOT_DIR } from "../../src/paths";
import { runCommand, withDevDatabase } from "./command";
import { migrateDatabase, setupRoles } from "./migrations";

function run(args: string[], env: NodeJS.ProcessEnv): Promise<number> | number {
  if (args[0] === "setup") return setup(env);
  const cli = require.resolve("graphile-migrate/dist/cli.js");
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: ROOT_DIR, env, stdio: "inherit" });
  return result.status ?? 1;
}

async function setup(env: NodeJS.ProcessEnv): Promise<number> {
  const { DATABASE_URL, ROOT_DATABASE_URL, AUTH_DATABASE_URL } = env;
  if (!ROOT_DATABASE_URL || !AUTH_DATABASE_URL) {
    throw new Error("db:setup needs ROOT_DATABASE_URL (a superuser) and AUTH_DATABASE_URL (the authenticator)");
  }
  const urls = { rootUrl: ROOT_DATABASE_URL, ownerUrl: DATABASE_URL!, authUrl: AUTH_DATABASE_URL };
  await setupRoles(urls);
  await migrateDatabase(urls);
  process.stderr.write("roles set up, database migrated\n");
  return 0;
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
