/** The GraphQL schema the API serves, printed as schema.graphql holds it (`npm run schema`, test/api/schema.test.ts). */
import path from "node:path";
import { Pool } from "pg";
import { makeSchema } from "postgraphile";
import { lexicographicSortSchema, printSchema } from "postgraphile/graphql";
import { loadConfig } from "../src/config";
import { makePreset } from "../src/graphile.config";
import { makeLogger } from "../src/logger";
import { ROOT_DIR } from "../src/paths";

export const SCHEMA_FILE = path.join(ROOT_DIR, "schema.graphql");

/** Sorted, so client code generators and reviewers see every change as a diff; built against the database at `authUrl`. */
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
