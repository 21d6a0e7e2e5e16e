import { randomBytes } from "node:crypto";
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedCluster } from "../../scripts/db/embedded";
import { resetDatabase, setupRoles, type DatabaseUrls } from "../../scripts/db/migrations";
import { roleNames } from "../../src/db/roles";
import { DATABASE_NAME, OWNER_ROLE } from "../../scripts/db/names";
import { connectionString } from "../../scripts/db/urls";
import { DATA_DIR } from "../../src/paths";

const TEST_DATABASE = `${DATABASE_NAME}_test`;

declare global {
  var __EMBEDDED_PG__: EmbeddedCluster | undefined;
}

/**
 * Runs once per `jest` run: uses TEST_DATABASE_URL (a superuser connection) when
 * given, otherwise starts a throw-away embedded Postgres; then sets up the roles and
 * resets the test database from the committed migrations. Workers inherit the
 * resulting connection strings through the environment.
 */
export default async function globalSetup(): Promise<void> {
  let rootUrl = process.env.TEST_DATABASE_URL;
  if (!rootUrl) {
    const cluster = await startEmbeddedPostgres({
      dataDir: path.join(DATA_DIR, `test-postgres-${process.pid}`),
      superuserPassword: randomBytes(18).toString("base64url"),
      persistent: false,
    });
    globalThis.__EMBEDDED_PG__ = cluster;
    rootUrl = cluster.rootUrl;
  }
  const ownerPassword = randomBytes(18).toString("base64url");
  const authPassword = randomBytes(18).toString("base64url");
  const urls: DatabaseUrls = {
    rootUrl,
    ownerUrl: connectionString(rootUrl, { user: OWNER_ROLE, password: ownerPassword, database: TEST_DATABASE }),
    authUrl: connectionString(rootUrl, {
      user: roleNames().authenticator,
      password: authPassword,
      database: TEST_DATABASE,
    }),
  };
  await setupRoles(urls);
  await resetDatabase(urls);
  process.env.GRAPHILE_ENV = "development";
  process.env.TEST_ROOT_URL = rootUrl;
  process.env.TEST_OWNER_URL = urls.ownerUrl;
  process.env.TEST_AUTH_URL = urls.authUrl;
  // The superuser, in the test database: sees every row, used to prove rows exist.
  process.env.TEST_SUPERUSER_URL = connectionString(rootUrl, { database: TEST_DATABASE });
}
