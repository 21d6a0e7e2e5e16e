/**
 * `npm run db:psql`: psql on the development database (the embedded one, started for the
 * session when `npm start` is not running it), or on DATABASE_URL when set. Without psql
 * installed it prints the connection string for another client.
 *
 *   npm run db:psql                       as the superuser: sees every row (RLS bypassed)
 *   npm run db:psql -- --as owner         as the owner, who runs migrations
 *   npm run db:psql -- --as authenticator as the API logs in (then `set role tasks_user` …)
 *   npm run db:psql -- -c 'select 1'      anything after the options goes to psql
 */
import { spawnSync } from "node:child_process";
import { runCommand, withDevDatabase } from "./command";
import { CommandError, postgresUrl } from "./connect";
import type { DevDatabase } from "./dev";
import { DATABASE_NAME } from "./names";
import { connectionString } from "./urls";

const ROLES = {
  superuser: (db: DevDatabase) => connectionString(db.rootUrl, { database: DATABASE_NAME }),
  owner: (db: DevDatabase) => db.ownerUrl,
  authenticator: (db: DevDatabase) => db.authUrl,
};

function psql(url: string, args: string[]): number {
  const result = spawnSync("psql", [url, ...args], { stdio: "inherit" });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    process.stderr.write("psql is not installed (e.g. apt install postgresql-client); connect any client to:\n");
    process.stdout.write(`${url}\n`);
    return 0;
  }
  if (result.error) throw result.error;
  return result.status ?? 1;
}

runCommand(async () => {
  const args = process.argv.slice(2);
  let role: keyof typeof ROLES = "superuser";
  if (args[0] === "--as") {
    const wanted = args[1] ?? "";
    if (!(wanted in ROLES)) throw new CommandError(`--as takes one of ${Object.keys(ROLES).join(", ")}`);
    role = wanted as keyof typeof ROLES;
    args.splice(0, 2);
  }
  if (process.env.DATABASE_URL) {
    if (role !== "superuser") throw new CommandError("with DATABASE_URL set, db:psql connects with DATABASE_URL only");
    return psql(postgresUrl("DATABASE_URL", process.env.DATABASE_URL), args);
  }
  return withDevDatabase(process.env, async (db) => psql(ROLES[role](db), args));
});
