/**
 * `npm run db:lint`: runs the policy linter (src/db/lint.ts) over the app's schemas
 * and exits 1 when it finds anything, so CI and a DBA's shell can gate on it.
 *
 * Like the other db:* commands it uses DATABASE_URL when set and otherwise the
 * embedded development database, started (and stopped again) as src/db/cli.ts does.
 */
import { Client } from "pg";
import { startDevDatabase } from "./dev";
import { lintDatabase, APP_SCHEMAS } from "./lint";

const DEFAULT_EMBEDDED_PORT = 54329;
const SCHEMAS = APP_SCHEMAS;

async function main(): Promise<number> {
  let url = process.env.DATABASE_URL;
  let stop = async () => {};
  if (!url) {
    if (process.env.NODE_ENV === "production") {
      throw new Error("DATABASE_URL is required in production (the owner's connection string)");
    }
    const port = Number(process.env.EMBEDDED_PG_PORT ?? DEFAULT_EMBEDDED_PORT);
    const db = await startDevDatabase(port, (line) => process.stderr.write(`${line}\n`));
    url = db.ownerUrl;
    stop = db.stop;
  }
  try {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const findings = await lintDatabase(client, { schemas: SCHEMAS });
      for (const finding of findings) {
        process.stdout.write(`${finding.rule} ${finding.object}: ${finding.message}\n`);
      }
      const where = SCHEMAS.join(", ");
      if (findings.length === 0) {
        process.stdout.write(`db:lint: no findings in ${where}\n`);
        return 0;
      }
      process.stdout.write(`db:lint: ${findings.length} finding${findings.length === 1 ? "" : "s"} in ${where}\n`);
      return 1;
    } finally {
      await client.end();
    }
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
