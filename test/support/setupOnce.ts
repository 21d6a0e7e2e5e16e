/**
 * The test suite's set-up, run once in a process of its own (test/scripts/utf8-cluster.test.ts runs it with
 * the locale variables removed): starts the throw-away cluster, migrates, prints the encodings as
 * JSON, and stops the cluster again.
 */
import { Client } from "pg";
import globalSetup from "./globalSetup";
import globalTeardown from "./globalTeardown";

async function main(): Promise<void> {
  try {
    await globalSetup();
    await printEncodings();
  } finally {
    await globalTeardown(); // deletes the throw-away cluster, also after a failed migration
  }
}

async function printEncodings(): Promise<void> {
  const client = new Client({ connectionString: process.env.TEST_SUPERUSER_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string; encoding: string }>(
      "select datname, pg_encoding_to_char(encoding) as encoding from pg_database where datname in (current_database(), 'template1')",
    );
    process.stdout.write(`${JSON.stringify(Object.fromEntries(rows.map((row) => [row.datname, row.encoding])))}\n`);
  } finally {
    await client.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
