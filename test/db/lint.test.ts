/*
 * The policy linter behind `npm run db:lint` (scripts/db/lint.ts and one query per
 * rule in scripts/db/lint/). The app's schemas
 * pass it; each rule is proven to fire on a scratch object that breaks that rule
 * and nothing else, and the fix its message names is proven to clear it; a scratch
 * schema built the project's way passes, so the linter does not cry wolf.
 *
 * Scratch objects live in a transaction that is rolled back: nothing is left
 * behind, and tests in other files never see them.
 */
import { Client } from "pg";
import { lintDatabase, type Finding, APP_SCHEMAS } from "../../scripts/db/lint";
import { roleNames } from "../../src/db/roles";
import { testDb } from "../support/env";

const { user: USER, anonymous: ANONYMOUS } = roleNames();
const OWNER = new URL(testDb.ownerUrl).username;

let client: Client;
beforeEach(async () => {
  client = new Client({ connectionString: testDb.superuserUrl });
  await client.connect();
  await client.query("begin");
});
afterEach(async () => {
  await client.query("rollback");
  await client.end();
});

const sql = async (text: string) => {
  await client.query(text);
};
const lint = (...schemas: string[]) => lintDatabase(client, { schemas });
const ruleAndObject = (findings: Finding[]) => findings.map(({ rule, object }) => ({ rule, object }));

/** A fresh scratch schema, empty and owned by the superuser. */
async function scratch(name: string): Promise<string> {
  const schema = `lint_scratch_${name.replace(/-/g, "_")}`;
  await sql(`create schema ${schema}`);
  return schema;
}

/**
 * A table built the way the project builds them: RLS enabled and forced, one policy
 * per command to the request role with the identity call in a sub-select (both
 * forms: the app's function and current_setting), an index leading with the column
 * the policies read, and insert/update granted on listed columns only.
 */
async function goodTable(schema: string): Promise<string> {
  const table = `${schema}.notes`;
  const own = "owner_id = (select app_public.current_user_id())";
  const ownBySetting = "owner_id = (select current_setting('request.jwt.claim.sub', true))";
  await sql(`
    create table ${table} (
      id uuid primary key default gen_random_uuid(),
      owner_id text not null default app_public.current_user_id(),
      body text not null
    );
    alter table ${table} enable row level security;
    alter table ${table} force row level security;
    create index notes_owner_id_idx on ${table} (owner_id);
    create policy select_own on ${table} for select to ${USER} using (${own});
    create policy insert_own on ${table} for insert to ${USER} with check (${ownBySetting});
    create policy update_own on ${table} for update to ${USER} using (${own}) with check (${ownBySetting});
    create policy delete_own on ${table} for delete to ${USER} using (${own});
    grant usage on schema ${schema} to ${USER};
    grant select, delete on ${table} to ${USER};
    grant insert (body), update (body) on ${table} to ${USER};
  `);
  return table;
}

/** The one finding a schema has, which must be `rule` about `object`. */
async function onlyFinding(schema: string, rule: string, object: string): Promise<Finding> {
  const findings = await lint(schema);
  expect(ruleAndObject(findings)).toEqual([{ rule, object }]);
  return findings[0]!;
}

/** Runs the statement(s) a message ends with, as a DBA would paste them. */
async function applyFix(finding: Finding): Promise<void> {
  await sql(finding.message.slice(finding.message.lastIndexOf(": ") + 2));
}

describe("the app's own schemas", () => {
  it("have no findings", async () => {
    expect(await lint(...APP_SCHEMAS)).toEqual([]);
  });

  it("are really examined: a migration that breaks three rules there gets exactly those three findings", async () => {
    // As a migration would run: as the owner, whose default privileges keep PUBLIC
    // off new functions, so only the deliberate grant reaches it.
    await sql(`
      set local role ${OWNER};
      alter table app_public.tasks no force row level security;
      grant execute on function app_public.current_user_id() to public;
      create function app_private.leak() returns int language sql security definer as 'select 1';
    `);
    expect(ruleAndObject(await lint(...APP_SCHEMAS))).toEqual([
      { rule: "definer-without-search-path", object: "app_private.leak()" },
      { rule: "granted-to-public", object: "app_public.current_user_id()" },
      { rule: "rls-not-forced", object: "app_public.tasks" },
    ]);
  });
});

describe("a scratch schema built the project's way", () => {
  it("has no findings: forced RLS, a role on every policy, wrapped identity, leading indexes, column grants", async () => {
    const schema = await scratch("good");
    const table = await goodTable(schema);
    await sql(`
      create view ${schema}.note_bodies with (security_invoker = on) as select id, body from ${table};
      grant select on ${schema}.note_bodies to ${USER};
      create function ${schema}.note_count() returns bigint language sql stable security definer
        set search_path = pg_catalog, pg_temp
        as 'select count(*) from ${table}';
      revoke execute on function ${schema}.note_count() from public;
      grant execute on function ${schema}.note_count() to ${USER};
      create type ${schema}.mood as enum ('calm', 'busy');
      revoke usage on type ${schema}.mood from public;
      create sequence ${schema}.ticket;
      grant usage on sequence ${schema}.ticket to ${USER};
    `);
    expect(await lint(schema)).toEqual([]);
  });

  it("is linted on its own: findings elsewhere are not reported for it", async () => {
    const good = await scratch("good");
    await goodTable(good);
    const bad = await scratch("bad");
    await sql(`create table ${bad}.loose (id int)`);
    expect(await lint(good)).toEqual([]);
    expect(ruleAndObject(await lint(bad))).toEqual([{ rule: "rls-disabled", object: `${bad}.loose` }]);
  });
});

describe("rls-disabled and rls-not-forced", () => {
  it("reports a table whose row-level security is disabled, and the fix clears it", async () => {
    const schema = await scratch("rls-disabled");
    const table = await goodTable(schema);
    await sql(`alter table ${table} disable row level security`);
    const finding = await onlyFinding(schema, "rls-disabled", table);
    expect(finding.message).toContain(`alter table ${table} enable row level security`);
    expect(finding.message).not.toContain("force");
    await applyFix(finding);
    expect(await lint(schema)).toEqual([]);
  });

  it("reports a new table that never had row-level security once, with both statements that fix it", async () => {
    const schema = await scratch("rls-never");
    await sql(`create table ${schema}.bare (id int primary key)`);
    const finding = await onlyFinding(schema, "rls-disabled", `${schema}.bare`);
    await applyFix(finding);
    expect(await lint(schema)).toEqual([]);
  });

  it("reports a table whose RLS is enabled but not forced, and the fix clears it", async () => {
    const schema = await scratch("rls-not-forced");
    const table = await goodTable(schema);
    await sql(`alter table ${table} no force row level security`);
    const finding = await onlyFinding(schema, "rls-not-forced", table);
    expect(finding.message).toContain(`alter table ${table} force row level security`);
    await applyFix(finding);
    expect(await lint(schema)).toEqual([]);
  });

  it("reports a partitioned table without row-level security", async () => {
    const schema = await scratch("rls-partitioned");
    await sql(`create table ${schema}.events (at date not null) partition by range (at)`);
    await onlyFinding(schema, "rls-disabled", `${schema}.events`);
  });
});

describe("missing-policy", () => {
  it("reports a command granted on the table with no policy for it", async () => {
    const schema = await scratch("missing-policy");
    const table = await goodTable(schema);
    await sql(`drop policy delete_own on ${table}`);
    const finding = await onlyFinding(schema, "missing-policy", table);
    expect(finding.message).toMatch(new RegExp(`^${USER} is granted DELETE but no policy for delete`));
  });

  it("reports a command granted only on some columns with no policy for it", async () => {
    const schema = await scratch("missing-policy-column");
    const table = await goodTable(schema);
    await sql(`drop policy insert_own on ${table}`);
    const finding = await onlyFinding(schema, "missing-policy", table);
    expect(finding.message).toMatch(new RegExp(`^${USER} is granted INSERT but`));
  });

  it("reports a role granted a command whose policies name only another role", async () => {
    const schema = await scratch("missing-policy-role");
    const table = await goodTable(schema);
    await sql(`grant select on ${table} to ${ANONYMOUS}`);
    const finding = await onlyFinding(schema, "missing-policy", table);
    expect(finding.message).toMatch(new RegExp(`^${ANONYMOUS} is granted SELECT but`));
  });

  it("accepts a policy to a role the grantee inherits from, as Postgres applies it, but not to one it does not", async () => {
    const schema = await scratch("missing-policy-member");
    const table = await goodTable(schema);
    // The member's INHERIT attribute, not Postgres 16's per-grant `with inherit`: it works from Postgres 15.
    await sql(`
      create role lint_scratch_inheritor inherit;
      grant ${USER} to lint_scratch_inheritor;
      create role lint_scratch_noninheritor noinherit;
      grant ${USER} to lint_scratch_noninheritor;
      grant select on ${table} to lint_scratch_inheritor, lint_scratch_noninheritor;
    `);
    const finding = await onlyFinding(schema, "missing-policy", table);
    expect(finding.message).toMatch(/^lint_scratch_noninheritor is granted SELECT but/);
  });
});

describe("policy-to-public", () => {
  it("reports a policy without a `to` clause", async () => {
    const schema = await scratch("policy-to-public");
    const table = await goodTable(schema);
    await sql(`
      drop policy select_own on ${table};
      create policy select_own on ${table} for select using (owner_id = (select app_public.current_user_id()));
    `);
    const finding = await onlyFinding(schema, "policy-to-public", `select_own on ${table}`);
    expect(finding.message).toContain(`alter policy select_own on ${table} to`);
  });

  it("reports a policy written `to public` too", async () => {
    const schema = await scratch("policy-to-public-explicit");
    const table = await goodTable(schema);
    await sql(`alter policy delete_own on ${table} to public`);
    await onlyFinding(schema, "policy-to-public", `delete_own on ${table}`);
  });
});

describe("unwrapped-identity", () => {
  it.each([
    ["current_setting(…) compared per row", "owner_id = current_setting('request.jwt.claim.sub', true)"],
    ["the app's current_user_id() compared per row", "owner_id = app_public.current_user_id()"],
    ["a current_user_id() of any schema", "owner_id = SCHEMA.current_user_id()"],
    [
      "one wrapped call beside an unwrapped one",
      "owner_id = (select app_public.current_user_id()) or owner_id = current_setting('request.jwt.claim.sub', true)",
    ],
    [
      "a call inside a correlated EXISTS (…), which runs once per row",
      "exists (select 1 from app_public.lists l where l.user_id = owner_id and l.user_id = app_public.current_user_id())",
    ],
  ])("reports a policy with %s", async (_name, condition) => {
    const schema = await scratch("unwrapped-identity");
    const table = await goodTable(schema);
    await sql(`
      create function ${schema}.current_user_id() returns text language sql stable as $$ select 'x' $$;
      revoke execute on function ${schema}.current_user_id() from public;
      alter policy select_own on ${table} using (${condition.replace("SCHEMA", schema)});
    `);
    const finding = await onlyFinding(schema, "unwrapped-identity", `select_own on ${table}`);
    expect(finding.message).toMatch(/^using calls current_(setting|user_id)\(\)/);
  });

  it("reports the with check clause as well, naming it", async () => {
    const schema = await scratch("unwrapped-identity-check");
    const table = await goodTable(schema);
    await sql(
      `alter policy update_own on ${table} with check (owner_id = current_setting('request.jwt.claim.sub', true))`,
    );
    const finding = await onlyFinding(schema, "unwrapped-identity", `update_own on ${table}`);
    expect(finding.message).toMatch(/^with check calls current_setting\(\) once per row/);
  });

  it("accepts calls wrapped in a scalar sub-select, also inside EXISTS and inside other calls", async () => {
    const schema = await scratch("wrapped-identity");
    const table = await goodTable(schema);
    await sql(`
      alter policy select_own on ${table} using (
        exists (select 1 from app_public.lists l
                where l.user_id = owner_id and l.user_id = (select app_public.current_user_id()))
        or owner_id = (select coalesce(current_setting('request.jwt.claim.sub', true), ''))
        or owner_id <> 'current_setting(' || current_user
      );
    `);
    expect(await lint(schema)).toEqual([]);
  });
});

describe("unwrapped-identity, on the policy's stored expression rather than its text", () => {
  /** The identity functions the rule reports for a select policy `using (condition)`. */
  async function unwrappedCalls(condition: string): Promise<string[]> {
    const schema = await scratch("identity-forms");
    const table = await goodTable(schema);
    await sql(`
      create schema "Lint Scratch Quoted";
      create function "Lint Scratch Quoted".current_user_id() returns text language sql stable as $$ select 'x' $$;
      create function ${schema}.current_user_id() returns text language sql stable as $$ select 'x' $$;
      create function ${schema}."Current_User_Id"() returns text language sql stable as $$ select 'x' $$;
      create function ${schema}.my_current_user_id() returns text language sql stable as $$ select 'x' $$;
      create table ${schema}.members (note_id uuid, user_id text);
      set local search_path = ${schema};
      alter policy select_own on ${table} using (${condition.replace(/SCHEMA/g, schema)});
    `);
    const findings = (await lint(schema)).filter((finding) => finding.rule === "unwrapped-identity");
    expect(findings.length).toBeLessThanOrEqual(1);
    const calls = findings[0] && /^using calls (.+) once per row:/.exec(findings[0].message)?.[1];
    return calls ? calls.split(" and ").map((call) => call.replace(/\(\)$/, "")) : [];
  }

  it.each([
    ["the project's form", "owner_id = (select app_public.current_user_id())", []],
    ["an unqualified wrapped call", "owner_id = (select current_user_id())", []],
    ["a bare current_setting", "owner_id = current_setting('request.jwt.claim.sub', true)", ["current_setting"]],
    [
      "a bare call of a quoted schema's function",
      'owner_id = "Lint Scratch Quoted".current_user_id()',
      ["current_user_id"],
    ],
    ["a quoted function name", 'owner_id = "current_user_id"()', ["current_user_id"]],
    ["a quoted name that differs in case, so is another function", 'owner_id = "Current_User_Id"()', []],
    ["a look-alike function name", "owner_id = my_current_user_id()", []],
    ["the name inside a string literal", "body <> 'current_setting(' and body = 'it''s current_user_id('", []],
    ["an alias named like the function", "owner_id = (select SCHEMA.current_user_id() as current_user_id)", []],
    [
      "a name with braces in it ahead of the call",
      `owner_id = (select current_user_id() from (select 1 as "}}}}") as braces)`,
      [],
    ],
    ["a wrapped call inside another call", "owner_id = (select coalesce(current_setting('a.b', true), 'x'))", []],
    [
      "a wrapped call inside a correlated EXISTS",
      "exists (select 1 from SCHEMA.members m where m.note_id = id and m.user_id = (select current_user_id()))",
      [],
    ],
    [
      "a call directly inside EXISTS",
      "exists (select 1 from SCHEMA.members m where m.note_id = id and m.user_id = app_public.current_user_id())",
      ["current_user_id"],
    ],
    [
      "a call directly inside IN, ANY and ARRAY sub-selects",
      "owner_id in (select current_setting('a.b')) or body = any (array(select current_user_id()))",
      ["current_setting", "current_user_id"],
    ],
    [
      "a call left of IN, outside its sub-select",
      "current_user_id() in (select body from SCHEMA.notes)",
      ["current_user_id"],
    ],
    [
      "one wrapped and one bare call",
      "owner_id = (select current_user_id()) or body = current_user_id()",
      ["current_user_id"],
    ],
    ["a parenthesised but not sub-selected call", "owner_id = (current_user_id())", ["current_user_id"]],
  ])("handles %s", async (_name, condition, expected) => {
    expect(await unwrappedCalls(condition)).toEqual(expected);
  });
});

describe("unindexed-policy-column", () => {
  it.each([
    ["no index at all", "drop index SCHEMA.notes_owner_id_idx"],
    [
      "an index where it is not the first key",
      "drop index SCHEMA.notes_owner_id_idx; create index on SCHEMA.notes (body, owner_id)",
    ],
    [
      "only a partial index leading with it",
      "drop index SCHEMA.notes_owner_id_idx; create index on SCHEMA.notes (owner_id) where body <> ''",
    ],
  ])("reports a column a policy reads that has %s, and the fix clears it", async (_name, change) => {
    const schema = await scratch("unindexed-policy-column");
    const table = await goodTable(schema);
    await sql(change.replace(/SCHEMA/g, schema));
    const finding = await onlyFinding(schema, "unindexed-policy-column", `${table}.owner_id`);
    expect(finding.message).toContain("policies delete_own on");
    await applyFix(finding);
    expect(await lint(schema)).toEqual([]);
  });

  it("reports a column of another table that a policy's sub-select reads", async () => {
    const schema = await scratch("unindexed-other-table");
    const table = await goodTable(schema);
    const other = await scratch("unindexed-elsewhere");
    await sql(`
      create table ${other}.shares (note_id uuid not null, user_id text not null);
      create index on ${other}.shares (user_id);
      alter policy select_own on ${table} using (
        exists (select 1 from ${other}.shares s where s.note_id = id and s.user_id = (select app_public.current_user_id()))
      );
    `);
    await onlyFinding(schema, "unindexed-policy-column", `${other}.shares.note_id`);
  });
});

describe("definer-without-search-path", () => {
  it("reports a security definer function without a search_path, and the fix clears it", async () => {
    const schema = await scratch("definer");
    await sql(`
      create function ${schema}.touch(note uuid, why text) returns int language sql security definer as 'select 1';
      revoke execute on function ${schema}.touch(uuid, text) from public;
    `);
    const finding = await onlyFinding(schema, "definer-without-search-path", `${schema}.touch(uuid, text)`);
    expect(finding.message).toContain(`alter function ${schema}.touch(uuid, text) set search_path =`);
    await applyFix(finding);
    expect(await lint(schema)).toEqual([]);
  });

  it("reports one whose settings include others but not search_path", async () => {
    const schema = await scratch("definer-other-settings");
    await sql(`
      create function ${schema}.slow() returns int language sql security definer
        set statement_timeout = '1s' as 'select 1';
      revoke execute on function ${schema}.slow() from public;
    `);
    await onlyFinding(schema, "definer-without-search-path", `${schema}.slow()`);
  });
});

describe("view-without-security-invoker", () => {
  it.each([
    ["no options", ""],
    ["security_invoker = false", "with (security_invoker = false)"],
  ])("reports a view with %s, and the fix clears it", async (_name, options) => {
    const schema = await scratch("view");
    const table = await goodTable(schema);
    await sql(`create view ${schema}.note_bodies ${options} as select id, body from ${table}`);
    const finding = await onlyFinding(schema, "view-without-security-invoker", `${schema}.note_bodies`);
    await applyFix(finding);
    expect(await lint(schema)).toEqual([]);
  });
});

describe("grant-without-column-list", () => {
  it("reports a table-level update grant to the request role", async () => {
    const schema = await scratch("grant-without-column-list");
    const table = await goodTable(schema);
    await sql(`grant update on ${table} to ${USER}`);
    const finding = await onlyFinding(schema, "grant-without-column-list", table);
    expect(finding.message).toContain(`revoke update on ${table} from ${USER}`);
  });

  it("reports table-level insert and update together, once per role", async () => {
    const schema = await scratch("grant-insert-update");
    const table = await goodTable(schema);
    await sql(`grant insert, update on ${table} to ${USER}`);
    const finding = await onlyFinding(schema, "grant-without-column-list", table);
    expect(finding.message).toMatch(new RegExp(`^${USER} has table-level INSERT, UPDATE`));
  });
});

describe("granted-to-public", () => {
  it.each([
    ["the schema itself", "grant usage on schema SCHEMA to public", "SCHEMA"],
    [
      "a view",
      "create view SCHEMA.v with (security_invoker) as select 1 as x; grant select on SCHEMA.v to public",
      "SCHEMA.v",
    ],
    [
      "a column",
      "create view SCHEMA.v with (security_invoker) as select 1 as x; grant select (x) on SCHEMA.v to public",
      "SCHEMA.v.x",
    ],
    ["a sequence", "create sequence SCHEMA.seq; grant usage on sequence SCHEMA.seq to public", "SCHEMA.seq"],
    [
      "a function left with the built-in privileges (a NULL acl)",
      "create function SCHEMA.f(n int) returns int language sql as 'select n'",
      "SCHEMA.f(integer)",
    ],
    [
      "a type left with the built-in privileges, once and not for its array type",
      "create type SCHEMA.mood as enum ('calm')",
      "SCHEMA.mood",
    ],
    ["a domain left with the built-in privileges", "create domain SCHEMA.label as text", "SCHEMA.label"],
    [
      "default privileges that grant future tables to PUBLIC",
      "alter default privileges in schema SCHEMA grant select on tables to public",
      "SCHEMA",
    ],
  ])("reports %s, and the fix clears it", async (_name, change, object) => {
    const schema = await scratch("granted-to-public");
    await sql(change.replace(/SCHEMA/g, schema));
    const finding = await onlyFinding(schema, "granted-to-public", object.replace("SCHEMA", schema));
    await applyFix(finding);
    expect(await lint(schema)).toEqual([]);
  });

  it("reports a table granted to PUBLIC, alongside the missing policy for PUBLIC", async () => {
    const schema = await scratch("granted-to-public-table");
    const table = await goodTable(schema);
    await sql(`grant select on ${table} to public`);
    expect(ruleAndObject(await lint(schema))).toEqual([
      { rule: "granted-to-public", object: table },
      { rule: "missing-policy", object: table },
    ]);
  });
});
