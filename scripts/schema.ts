/**
 * `npm run schema`: writes the GraphQL schema the API serves to schema.graphql,
 * built against the embedded development database.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { setGraphileEnv } from "../src/graphileEnv";
import { runCommand, withDevDatabase } from "./db/command";

setGraphileEnv(process.env);
runCommand(() =>
  withDevDatabase(process.env, async (db) => {
    // Only now, with GRAPHILE_ENV set: the printer's imports load Grafast.
    const { printApiSchema, SCHEMA_FILE } = await import("./printSchema.js");
    writeFileSync(SCHEMA_FILE, await printApiSchema(db.authUrl));
    process.stderr.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
    return 0;
  }),
);
