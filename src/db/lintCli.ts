/**
 * `npm run db:lint`: runs the policy linter (src/db/lint.ts) over the app's schemas
 * and exits 1 when it finds anything, so CI and a DBA's shell can gate on it.
 *
 * Like the other db:* commands it uses DATABASE_URL when set and otherwise the
 * embedded development database, started (and stopped again) as src/db/cli.ts does.
 */
import { Client } from "pg";
// eslint-disable-next-line no-restricted-imports -- this tool moves to scripts/db/lint.ts (issue 11)
import { runCommand, withDevDatabase } from "../../scripts/db/command";
import { lintDatabase, APP_SCHEMAS } from "./lint";

async function lint(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const findings = await lintDatabase(client, { schemas: APP_SCHEMAS });
    for (const finding of findings) {
      process.stdout.write(`${finding.rule} ${finding.object}: ${finding.message}\n`);
    }
    const where = APP_SCHEMAS.join(", ");
    if (findings.length === 0) {
      process.stdout.write(`db:lint: no findings in ${where}\n`);
      return 0;
    }
    process.stdout.write(`db:lint: ${findings.length} finding${findings.length === 1 ? "" : "s"} in ${where}\n`);
    return 1;
  } finally {
    await client.end();
  }
}

runCommand(async () => {
  const url = process.env.DATABASE_URL;
  return url ? lint(url) : withDevDatabase(process.env, (db) => lint(db.ownerUrl));
});
