/**
 * `npm run db:lint`: the database linter. Each rule is one query, scripts/db/lint/<rule>.sql,
 * over the live catalogs of the schemas named in the `lint.schemas` setting; it returns one row
 * (rule, object, message) per violation, the message ending with the statement that fixes it.
 * This runner only sets `lint.schemas`, runs every file and prints the rows. A DBA can run a rule
 * by hand in psql: `set lint.schemas = '{app_public,app_private,app_meta}';` then `\i` the file.
 *
 * Exits 1 when anything is found, so CI and a DBA's shell can gate on it. Like the other db:*
 * commands it uses DATABASE_URL when set and otherwise the embedded development database.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Client, type ClientBase } from "pg";
import { runCommand, withDevDatabase } from "./command";
import { checkConnection, postgresUrl } from "./connect";

/** The schemas our migrations create, all of which `npm run db:lint` checks. */
export const APP_SCHEMAS = ["app_public", "app_private", "app_meta", "app_hidden"];

export interface Finding {
  rule: string;
  object: string;
  message: string;
}

export interface LintOptions {
  schemas: string[];
}

const RULES_DIR = path.join(__dirname, "lint");

/** One query per rule, in file-name order, which is the order findings are reported in. */
export const RULES = readdirSync(RULES_DIR)
  .filter((file) => file.endsWith(".sql"))
  .sort()
  .map((file) => ({ file, sql: readFileSync(path.join(RULES_DIR, file), "utf8") }));

export async function lintDatabase(client: ClientBase, { schemas }: LintOptions): Promise<Finding[]> {
  // Session-level: a transaction-local value would vanish after this statement in autocommit.
  await client.query("select set_config('lint.schemas', $1::text[]::text, false)", [schemas]);
  const findings: Finding[] = [];
  // Sequential: a pg client runs one query at a time anyway, and inside a caller's
  // transaction a failing rule must surface as itself, not as the next rule's
  // "current transaction is aborted".
  for (const { file, sql } of RULES) {
    try {
      findings.push(...(await client.query<Finding>(sql)).rows);
    } catch (error) {
      throw new Error(`db:lint: ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  return findings;
}

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

if (require.main === module) {
  runCommand(async () => {
    const url = process.env.DATABASE_URL;
    if (url) await checkConnection("DATABASE_URL", postgresUrl("DATABASE_URL", url));
    return url ? lint(url) : withDevDatabase(process.env, (db) => lint(db.ownerUrl));
  });
}
