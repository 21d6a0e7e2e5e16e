/*
 * The migration workflow itself: committed migrations build a database from
 * nothing, current.sql can run again and again, and status is clean afterwards.
 * Uses its own scratch database so the shared test database is left alone.
 */
import { Client } from "pg";
import { migrateDatabase, migrationStatus, runCurrentMigration, type DatabaseUrls } from "../../scripts/db/migrations";
import { connectionString } from "../../scripts/db/urls";
import { testDb } from "../support/env";

const SCRATCH = "tasks_migration_test";
const urls: DatabaseUrls = {
  rootUrl: testDb.rootUrl,
  ownerUrl: connectionString(testDb.ownerUrl, { database: SCRATCH }),
  authUrl: connectionString(testDb.authUrl, { database: SCRATCH }),
};

async function asRoot<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: testDb.rootUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

beforeAll(() => asRoot((c) => c.query(`drop database if exists ${SCRATCH}`)));
afterAll(() => asRoot((c) => c.query(`drop database if exists ${SCRATCH}`)));

it("builds the schema from an empty server, runs current.sql twice, and ends clean", async () => {
  await migrateDatabase(urls); // no database yet: created, then every committed migration
  const owner = new Client({ connectionString: urls.ownerUrl });
  await owner.connect();
  try {
    const applied = await owner.query("select filename from graphile_migrate.migrations order by filename");
    expect(applied.rows.length).toBeGreaterThanOrEqual(1);
    const tables = await owner.query("select tablename from pg_tables where schemaname = 'app_public' order by 1");
    expect(tables.rows.map((r) => r.tablename)).toEqual(["lists", "tasks"]);

    await runCurrentMigration(urls);
    await runCurrentMigration(urls);
    await migrateDatabase(urls); // already up to date: a no-op

    expect(await migrationStatus(urls)).toEqual({ remainingMigrations: [], hasCurrentMigration: false });
    const again = await owner.query("select count(*)::int as n from graphile_migrate.migrations");
    expect(again.rows[0].n).toBe(applied.rows.length);
  } finally {
    await owner.end();
  }
});
