/*
 * Guards over the catalogs: they fail when a later migration adds a table without
 * forced RLS, grants a command no policy covers, grants anything to PUBLIC, or gives
 * the authenticator a privilege of its own.
 */
import { Client } from "pg";
import { roleNames } from "../../src/db/migrations";
import { testDb } from "../support/env";
import { useSqlSession } from "../support/sql";

const roles = roleNames();
const OWNER = new URL(testDb.ownerUrl).username;
const APP_SCHEMAS = ["app_public", "app_private"];

const db = useSqlSession();

it("enables and forces row-level security on every table of the app's schemas", async () => {
  const tables = await db().query<{ table: string; enabled: boolean; forced: boolean }>(
    `select c.oid::regclass::text as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any($1) and c.relkind in ('r', 'p')
     order by 1`,
    [APP_SCHEMAS],
  );
  expect(tables.map((t) => t.table)).toEqual(["app_public.lists", "app_public.tasks"]);
  for (const table of tables) expect(table).toMatchObject({ enabled: true, forced: true });
});

it("has a policy, to that role, for every command granted on a table", async () => {
  const grants = await db().query<{ table: string; role: string; command: string; covered: boolean }>(
    `with grants as (
       select c.oid as relid, c.oid::regclass::text as table, acl.grantee, acl.privilege_type as command
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       cross join lateral aclexplode(c.relacl) acl
       where n.nspname = any($1) and c.relkind in ('r', 'p')
         and acl.privilege_type in ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
         and acl.grantee <> c.relowner
       union
       select c.oid, c.oid::regclass::text, acl.grantee, acl.privilege_type
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       cross join lateral aclexplode(a.attacl) acl
       where n.nspname = any($1) and acl.privilege_type in ('SELECT', 'INSERT', 'UPDATE')
     )
     select g.table, g.grantee::regrole::text as role, g.command, exists (
       select 1 from pg_policy p
       where p.polrelid = g.relid
         and g.grantee = any(p.polroles)
         and p.polcmd in ('*', case g.command when 'SELECT' then 'r' when 'INSERT' then 'a'
                                              when 'UPDATE' then 'w' when 'DELETE' then 'd' end)
     ) as covered
     from grants g`,
    [APP_SCHEMAS],
  );
  // Both tables grant all four commands to the user role, so there is something to check.
  expect(new Set(grants.map((g) => `${g.table} ${g.command}`)).size).toBe(8);
  expect(grants.filter((g) => !g.covered)).toEqual([]);
});

it("names a role on every policy (no policy applies to PUBLIC)", async () => {
  const policies = await db().query<{ name: string; roles: string[] }>(
    `select p.polrelid::regclass::text || '.' || p.polname as name,
            array(select r::regrole::text from unnest(p.polroles) r) as roles
     from pg_policy p order by 1`,
  );
  expect(policies.length).toBeGreaterThan(0);
  for (const policy of policies) expect(policy.roles).toEqual([roles.user]);
});

it("grants nothing to PUBLIC in the database or its schemas", async () => {
  const publicGrants = await db().query(
    `select 'database' as kind, datname as name from pg_database, aclexplode(datacl) a
       where datname = current_database() and a.grantee = 0
     union all
     select 'schema', nspname from pg_namespace, aclexplode(nspacl) a
       where nspname in ('public', 'app_public', 'app_private') and a.grantee = 0
     union all
     select 'table', c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace,
       aclexplode(c.relacl) a where n.nspname = any($1) and a.grantee = 0
     union all
     select 'function', p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace,
       aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a where n.nspname = any($1) and a.grantee = 0
     union all
     select 'type', t.oid::regtype::text from pg_type t join pg_namespace n on n.oid = t.typnamespace,
       aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
       where n.nspname = any($1) and a.grantee = 0
         and t.typrelid = 0 and t.typelem = 0  -- row and array types follow their table or element`,
    [APP_SCHEMAS],
  );
  expect(publicGrants).toEqual([]);
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

  it("gives the authenticator no privilege of its own beyond connecting, and no ownership", async () => {
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
    expect(privileges).toEqual([{ object: "database tasks_test", privilege: "CONNECT" }]);
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
  let client: Client;
  beforeEach(async () => {
    client = new Client({ connectionString: testDb.authUrl });
    await client.connect();
  });
  afterEach(() => client.end());

  it("can read no table without switching to a request role", async () => {
    await expect(client.query("select * from app_public.tasks")).rejects.toMatchObject({ code: "42501" });
  });

  it("keeps claims and role inside the transaction that set them", async () => {
    await client.query("begin");
    await client.query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [
      roles.user,
      JSON.stringify({ sub: "alice" }),
    ]);
    const during = await client.query("select current_user, app_public.current_user_id() as sub");
    expect(during.rows[0]).toEqual({ current_user: roles.user, sub: "alice" });
    await client.query("commit");

    const after = await client.query(
      "select current_user, coalesce(current_setting('request.jwt.claims', true), '') as claims",
    );
    expect(after.rows[0]).toEqual({ current_user: roles.authenticator, claims: "" });
  });

  it("forgets them after a rollback too", async () => {
    await client.query("begin");
    await client.query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [
      roles.user,
      JSON.stringify({ sub: "alice" }),
    ]);
    await client.query("rollback");
    const after = await client.query(
      "select current_user, coalesce(current_setting('request.jwt.claims', true), '') as claims",
    );
    expect(after.rows[0]).toEqual({ current_user: roles.authenticator, claims: "" });
  });
});
