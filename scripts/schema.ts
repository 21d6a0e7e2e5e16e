/**
 * `npm run schema`: prints the GraphQL schema the API serves to schema.graphql,
 * sorted, so client code generators and reviewers see every change as a diff.
 */
import "./graphileEnv";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Pool } from "pg";
import { makeSchema } from "postgraphile";
import { lexicographicSortSchema, printSchema } from "postgraphile/graphql";
import { startDevDatabase } from "./db/dev";
import { loadConfig } from "./config";
import { makePreset } from "./graphile.config";
import { makeLogger } from "./logger";
import { ROOT_DIR } from "./paths";

export const SCHEMA_FILE = path.join(ROOT_DIR, "schema.graphql");

/** The schema as printed into schema.graphql, built against the database at `authUrl`. */
export async function printApiSchema(authUrl: string): Promise<string> {
  const pool = new Pool({ connectionString: authUrl, max: 2 });
  try {
    // The schema does not depend on the environment; the defaults stand in for it.
    const config = { ...loadConfig({}), production: true };
    const preset = makePreset({ pool, config, log: makeLogger({ level: "warn" }) });
    const { schema } = await makeSchema(preset);
    return printSchema(lexicographicSortSchema(schema)) + "\n";
  } finally {
    await pool.end();
  }
}

if (require.main === module) {
  void (async () => {
    const db = await startDevDatabase(Number(process.env.EMBEDDED_PG_PORT ?? 54329), (line) =>
      process.stderr.write(`${line}\n`),
    );
    try {
      writeFileSync(SCHEMA_FILE, await printApiSchema(db.authUrl));
      process.stderr.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
    } finally {
      await db.stop();
    }
  })();
}
