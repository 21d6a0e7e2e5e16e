/**
 * `npm run db:seed`: loads the demo data (scripts/db/demoData.ts); safe to run again.
 *
 * It writes as the API does, through the authenticator's connection and row-level
 * security: AUTH_DATABASE_URL when set, otherwise (in development) the embedded
 * database that `npm start` uses, started and stopped again as scripts/db/cli.ts does.
 * Demo users do not belong in production, so NODE_ENV=production is refused.
 */
import { Client } from "pg";
import { loadConfig } from "../../src/config";
import { runCommand, withDevDatabase } from "./command";
import { checkConnection } from "./connect";
import { DEMO_USERS, seedDemoData } from "./demoData";

async function seed(authUrl: string, userRole: string): Promise<number> {
  const client = new Client({ connectionString: authUrl });
  await client.connect();
  try {
    const { inserted, updated, unchanged } = await seedDemoData(client, { userRole });
    const users = DEMO_USERS.map((user) => user.sub).join(", ");
    process.stdout.write(
      `db:seed: demo data for ${users}: ${inserted} rows inserted, ${updated} restored, ${unchanged} already there\n` +
        `Try it:  TOKEN=$(npm run -s token -- alice)   then send "Authorization: Bearer $TOKEN" to /graphql\n`,
    );
    return 0;
  } finally {
    await client.end();
  }
}

runCommand(async () => {
  if (process.env.NODE_ENV === "production") {
    throw new Error("db:seed loads demo users and refuses to run with NODE_ENV=production");
  }
  const config = loadConfig(process.env);
  const userRole = config.roles.user;
  if (config.authDatabaseUrl) {
    await checkConnection("AUTH_DATABASE_URL", config.authDatabaseUrl);
    return seed(config.authDatabaseUrl, userRole);
  }
  if (process.env.DATABASE_URL) {
    // The owner cannot become a request role, and the demo data must pass the policies as users.
    throw new Error("db:seed writes as each demo user through the authenticator: set AUTH_DATABASE_URL too");
  }
  return withDevDatabase(process.env, (db) => seed(db.authUrl, userRole));
});
