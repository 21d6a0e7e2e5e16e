/*
 * Guards over the catalogs: they fail when a later migration adds a table without
 * forced RLS, grants a command no policy covers, grants anything to PUBLIC, or gives
 * the authenticator a privilege of its own.
 */
import { lintDatabase, APP_SCHEMAS } from "../../scripts/db/lint";
import { latestCommittedMigrationHash } from "../../src/db/migrationLevel";
import { roleNames } from "../../src/db/roles";
import { testDb } from "../support/env";
import { useSqlSession } from "../support/sql";

const roles = roleNames();
const OWNER = new URL(testDb.ownerUrl).username;

const db = useSqlSession();

/*
 * RLS enabled and forced on every table, a policy `to` a role for every granted
 * command, identity wrapped for an InitPlan, indexes behind policy columns, column
 * lists on insert/update grants and nothing granted to PUBLIC: the policy linter
 * (scripts/db/lint/, one query per rule) checks all of it, and its own tests prove
 * each rule can fire.
 */
it("passes the policy linter, over every table", async () => {
  expect(await lintDatabase(db().client, { schemas: APP_SCHEMAS })).toEqual([]);
  const tables = await db().query<{ table: string }>(
    `select c.oid::regclass::text as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any($1) and c.relkind in ('r', 'p') order by 1`,
    [APP_SCHEMAS],
  );
  expect(tables.map((t) => t.table)).toEqual([
    "app_hidden.idempotency_keys",
    "app_private.token_cutoffs",
    "app_public.lists",
    "app_public.tasks",
  ]);
});

it("grants nothing to PUBLIC on the database itself", async () => {
  const grants = await db().query(
    `select a.privilege_type from pg_database, aclexplode(datacl) a where datname = current_database() and a.grantee = 0`,
  );
  expect(grants).toEqual([]);
});

describe("roles", () => {
  it("gives the authenticator login and nothing else: no superuser, no RLS bypass, no inheritance", async () => {
    const role = await db().one("select * from pg_roles where rolname = $1", [roles.authenticator]);
    expect(role).toMatchObject({
      rolcanlogin: true,
      rolsuper: false,
      rolbypassrls: false,
      rolinherit: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolreplication: false,
    });
  });

  it("lets the authenticator become exactly the two request roles", async () => {
    const memberships = await db().query<{ role: string }>(
      `select m.roleid::regrole::text as role from pg_auth_members m
       where m.member = $1::regrole order by 1`,
      [roles.authenticator],
    );
    expect(memberships.map((m) => m.role)).toEqual([roles.anonymous, roles.user].sort());
  });

  // Beyond connecting, only reading revocation cut-offs (migration 000011): the API checks them before a
  // request has a role, and the request roles do not inherit these grants (the authenticator is NOINHERIT
  // the other way round: it becomes them, they never become it).
  it("gives the authenticator no privilege of its own beyond connecting and reading cut-offs, and no ownership", async () => {
    const owned = await db().query(
      `select oid from pg_class where relowner = $1::regrole
       union all select oid from pg_namespace where nspowner = $1::regrole
       union all select oid from pg_proc where proowner = $1::regrole
       union all select oid from pg_database where datdba = $1::regrole`,
      [roles.authenticator],
    );
    expect(owned).toEqual([]);
    const privileges = await db().query<{ object: string; privilege: string }>(
      `select 'database ' || datname as object, a.privilege_type as privilege
         from pg_database, aclexplode(datacl) a where a.grantee = $1::regrole
       union all
       select 'schema ' || nspname, a.privilege_type from pg_namespace, aclexplode(nspacl) a where a.grantee = $1::regrole
       union all
       select 'table ' || oid::regclass::text, a.privilege_type from pg_class, aclexplode(relacl) a where a.grantee = $1::regrole
       union all
       select 'column ' || attname, a.privilege_type from pg_attribute, aclexplode(attacl) a where a.grantee = $1::regrole
       union all
       select 'function ' || oid::regprocedure::text, a.privilege_type from pg_proc, aclexplode(proacl) a where a.grantee = $1::regrole`,
      [roles.authenticator],
    );
    // Catalog order is not guaranteed: compare as sets.
    expect([...privileges].sort((a, b) => a.object.localeCompare(b.object))).toEqual([
      { object: "database tasks_test", privilege: "CONNECT" },
      { object: "function app_private.token_cutoff(text)", privilege: "EXECUTE" },
      { object: "function app_private.token_cutoffs_by_key()", privilege: "EXECUTE" },
      { object: "schema app_private", privilege: "USAGE" },
    ]);
  });

  it("keeps the owner and the request roles without superuser or RLS bypass; request roles cannot log in", async () => {
    const rows = await db().query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; rolcanlogin: boolean }>(
      "select rolname, rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname = any($1) order by rolname",
      [[OWNER, roles.user, roles.anonymous]],
    );
    expect(rows).toEqual(
      [
        { rolname: OWNER, rolsuper: false, rolbypassrls: false, rolcanlogin: true },
        { rolname: roles.user, rolsuper: false, rolbypassrls: false, rolcanlogin: false },
        { rolname: roles.anonymous, rolsuper: false, rolbypassrls: false, rolcanlogin: false },
      ].sort((a, b) => a.rolname.localeCompare(b.rolname)),
    );
  });

  it("owns every object in the app's schemas by the owner", async () => {
    const foreign = await db().query(
      `select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any($1) and c.relowner <> $2::regrole
       union all
       select n.nspname from pg_namespace n where n.nspname = any($1) and n.nspowner <> $2::regrole`,
      [APP_SCHEMAS, OWNER],
    );
    expect(foreign).toEqual([]);
  });
});

describe("the authenticator's own connection", () => {
  const authenticator = useSqlSession({ as: "authenticator", autocommit: true });
  const IDENTITY = "select current_user, coalesce(current_setting('request.jwt.claims', true), '') as claims";

  it("can read no table without switching to a request role", async () => {
    await expect(authenticator().query("select * from app_public.tasks")).rejects.toMatchObject({ code: "42501" });
  });

  it("keeps claims and role inside the transaction that set them", async () => {
    await authenticator().query("begin");
    await authenticator().asUser("alice");
    const during = await authenticator().one("select current_user, app_public.current_user_id() as sub");
    expect(during).toEqual({ current_user: roles.user, sub: "alice" });
    await authenticator().query("commit");

    expect(await authenticator().one(IDENTITY)).toEqual({ current_user: roles.authenticator, claims: "" });
  });

  it("forgets them after a rollback too", async () => {
    await authenticator().query("begin");
    await authenticator().asUser("alice");
    await authenticator().query("rollback");
    expect(await authenticator().one(IDENTITY)).toEqual({ current_user: roles.authenticator, claims: "" });
  });
});

describe("the readiness probe's question", () => {
  it("tells the anonymous role whether a migration is applied, and nothing else", async () => {
    await db().asAnonymous();
    const newest = latestCommittedMigrationHash();
    expect(await db().one("select app_meta.migration_applied($1) as applied", [newest])).toEqual({ applied: true });
    expect(await db().one("select app_meta.migration_applied('sha1:not-a-migration') as applied")).toEqual({
      applied: false,
    });
    await expect(db().query("select * from graphile_migrate.migrations")).rejects.toMatchObject({ code: "42501" });
  });
});
