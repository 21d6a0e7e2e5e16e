/*
 * The migration workflow itself: committed migrations build a database from
 * nothing, current.sql can run again and again, and status is clean afterwards.
 * Uses its own scratch database so the shared test database is left alone.
 */
import { migrateDatabase, migrationStatus, runCurrentMigration, type DatabaseUrls } from "../../scripts/db/migrations";
import { connectionString } from "../../scripts/db/urls";
import { testDb } from "../support/env";
import { withSqlSession } from "../support/sql";

const SCRATCH = "tasks_migration_test";
const urls: DatabaseUrls = {
  rootUrl: testDb.rootUrl,
  ownerUrl: connectionString(testDb.ownerUrl, { database: SCRATCH }),
  authUrl: connectionString(testDb.authUrl, { database: SCRATCH }),
};

/** Drop database refuses to run inside a transaction. */
const dropScratch = () => withSqlSession({ autocommit: true }, (db) => db.query(`drop database if exists ${SCRATCH}`));

beforeAll(dropScratch);
afterAll(dropScratch);

it("builds the schema from an empty server, runs current.sql twice, and ends clean", async () => {
  await migrateDatabase(urls); // no database yet: created, then every committed migration
  // Outside a transaction, so the migrations that run meanwhile wait on none of its locks.
  await withSqlSession({ as: "owner", database: SCRATCH, autocommit: true }, async (owner) => {
    const applied = await owner.query("select filename from graphile_migrate.migrations order by filename");
    expect(applied.length).toBeGreaterThanOrEqual(1);
    const tables = await owner.query("select tablename from pg_tables where schemaname = 'app_public' order by 1");
    expect(tables.map((r) => r.tablename)).toEqual(["lists", "tasks"]);

    await runCurrentMigration(urls);
    await runCurrentMigration(urls);
    await migrateDatabase(urls); // already up to date: a no-op

    expect(await migrationStatus(urls)).toEqual({ remainingMigrations: [], hasCurrentMigration: false });
    const again = await owner.one<{ n: number }>("select count(*)::int as n from graphile_migrate.migrations");
    expect(again.n).toBe(applied.length);
  });
});
