/**
 * The database policy linter behind `npm run db:lint`: reads the live catalogs of
 * the given schemas and reports every object that breaks one of the project's
 * rules (README, "For DBAs"). Migrations are reviewed by people; this catches what
 * a review misses, on the database as it really is rather than as the SQL reads.
 *
 * Every object name is built from quote_ident() rather than a reg* cast: those
 * drop the schema when it is on the connection's search_path, and a message must
 * name the object the same way whoever runs it.
 */
import type { Client, PoolClient } from "pg";

/** The schemas our migrations create, all of which the linter checks. */
export const APP_SCHEMAS = ["app_public", "app_private", "app_meta"];

export interface Finding {
  rule: string;
  object: string;
  message: string;
}

export interface LintOptions {
  schemas: string[];
}

type Queryable = Client | PoolClient;
type Rule = (client: Queryable, schemas: string[]) => Promise<Finding[]>;

/** The rules in the order their findings are reported. */
export const RULES = [
  "rls-disabled",
  "rls-not-forced",
  "missing-policy",
  "policy-to-public",
  "unwrapped-identity",
  "unindexed-policy-column",
  "definer-without-search-path",
  "view-without-security-invoker",
  "grant-without-column-list",
  "granted-to-public",
] as const;

export async function lintDatabase(client: Queryable, options: LintOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  // Sequential: a pg client runs one query at a time anyway, and inside a caller's
  // transaction a failing rule must surface as itself, not as the next rule's
  // "current transaction is aborted".
  for (const rule of [
    rowLevelSecurity,
    missingPolicies,
    policiesToPublic,
    unwrappedIdentity,
    unindexedPolicyColumns,
    definersWithoutSearchPath,
    viewsWithoutSecurityInvoker,
    grantsWithoutColumnList,
    grantsToPublic,
  ]) {
    findings.push(...(await rule(client, options.schemas)));
  }
  const order = (f: Finding) => RULES.indexOf(f.rule as (typeof RULES)[number]);
  return findings.sort((a, b) => order(a) - order(b) || a.object.localeCompare(b.object));
}

async function rows<R>(client: Queryable, sql: string, schemas: string[]): Promise<R[]> {
  return (await client.query(sql, [schemas])).rows as R[];
}

const lower = (privileges: string[]) => privileges.map((p) => p.toLowerCase()).join(", ");

// 1. Policies only bind when RLS is enabled, and bind the table's owner only when forced.
const rowLevelSecurity: Rule = async (client, schemas) => {
  const tables = await rows<{ object: string; enabled: boolean; forced: boolean }>(
    client,
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object,
            c.relrowsecurity as enabled, c.relforcerowsecurity as forced
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any($1) and c.relkind in ('r', 'p')
       and not (c.relrowsecurity and c.relforcerowsecurity)`,
    schemas,
  );
  return tables.map(({ object, enabled, forced }) => {
    const force = `alter table ${object} force row level security`;
    if (!enabled) {
      const fix = forced ? "" : `; ${force}`;
      return {
        rule: "rls-disabled",
        object,
        message: `row level security is disabled, so its policies are ignored and every grant reaches every row: alter table ${object} enable row level security${fix}`,
      };
    }
    return {
      rule: "rls-not-forced",
      object,
      message: `row level security is not forced, so the table's owner (and everything running as it) bypasses the policies: ${force}`,
    };
  });
};

// 2. A command granted without a policy for it returns no rows (or refuses every
// write): either the grant is a mistake or the policy was forgotten.
const missingPolicies: Rule = async (client, schemas) => {
  const gaps = await rows<{ object: string; role: string; commands: string[] }>(
    client,
    `with grants as (
       select c.oid as relid, acl.grantee, acl.privilege_type as command
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       cross join lateral aclexplode(c.relacl) acl
       where n.nspname = any($1) and c.relkind in ('r', 'p')
         and acl.privilege_type in ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
         and acl.grantee <> c.relowner
       union
       select c.oid, acl.grantee, acl.privilege_type
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       cross join lateral aclexplode(a.attacl) acl
       where n.nspname = any($1) and c.relkind in ('r', 'p') and not a.attisdropped
         and acl.privilege_type in ('SELECT', 'INSERT', 'UPDATE')
         and acl.grantee <> c.relowner
     )
     select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object,
            case when g.grantee = 0 then 'public' else g.grantee::regrole::text end as role,
            array_agg(g.command order by array_position(array['SELECT', 'INSERT', 'UPDATE', 'DELETE'], g.command)) as commands
     from grants g
     join pg_class c on c.oid = g.relid
     join pg_namespace n on n.oid = c.relnamespace
     where not exists (
       select 1 from pg_policy p
       where p.polrelid = g.relid
         and p.polcmd in ('*', case g.command when 'SELECT' then 'r' when 'INSERT' then 'a'
                                              when 'UPDATE' then 'w' when 'DELETE' then 'd' end)
         -- Postgres applies a policy to the roles whose privileges the user has
         -- (members that inherit), and a policy to PUBLIC to everyone.
         and (0 = any(p.polroles)
              or exists (select 1 from unnest(p.polroles) r where pg_has_role(g.grantee, r, 'usage')))
     )
     group by 1, 2`,
    schemas,
  );
  return gaps.map(({ object, role, commands }) => ({
    rule: "missing-policy",
    object,
    message: `${role} is granted ${commands.join(", ")} but no policy for ${lower(commands)} applies to it, so row level security hides or refuses every row: create policy … on ${object} for ${lower(commands)} to ${role} …, or revoke ${lower(commands)} on ${object} from ${role}`,
  }));
};

// 3. A policy without `to` applies to PUBLIC: every role, present and future.
const policiesToPublic: Rule = async (client, schemas) => {
  const policies = await rows<{ object: string }>(
    client,
    `select quote_ident(p.polname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object
     from pg_policy p
     join pg_class c on c.oid = p.polrelid
     join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any($1) and 0 = any(p.polroles)`,
    schemas,
  );
  return policies.map(({ object }) => ({
    rule: "policy-to-public",
    object,
    message: `the policy applies to PUBLIC (it has no \`to\` clause), so it also binds every role created later: alter policy ${object} to <the request role>`,
  }));
};

// 4. An identity call evaluated per row costs a function call (and a JSON parse)
// for every row scanned; inside `(select …)` it is an InitPlan, evaluated once.
const unwrappedIdentity: Rule = async (client, schemas) => {
  const policies = await rows<{ object: string; using: string | null; check: string | null }>(
    client,
    `select quote_ident(p.polname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object,
            pg_get_expr(p.polqual, p.polrelid) as using,
            pg_get_expr(p.polwithcheck, p.polrelid) as check
     from pg_policy p
     join pg_class c on c.oid = p.polrelid
     join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any($1)`,
    schemas,
  );
  const findings: Finding[] = [];
  for (const { object, using, check } of policies) {
    const clauses = [
      ["using", using],
      ["with check", check],
    ] as const;
    const bad = clauses.flatMap(([clause, expression]) => {
      const calls = expression === null ? [] : unwrappedIdentityCalls(expression);
      return calls.length === 0 ? [] : [`${clause} calls ${calls.map((c) => `${c}()`).join(" and ")}`];
    });
    if (bad.length > 0) {
      findings.push({
        rule: "unwrapped-identity",
        object,
        message: `${bad.join("; ")} once per row: wrap each call in a scalar sub-select, e.g. user_id = (select current_user_id()), so Postgres evaluates it once per statement`,
      });
    }
  }
  return findings;
};

const IDENTITY_FUNCTIONS = new Set(["current_setting", "current_user_id"]);
// `( SELECT` after these is a set (not scalar) sub-select: a correlated EXISTS runs
// once per outer row, so a call inside it still needs its own `(select …)`.
const SET_SUBLINK_KEYWORDS = new Set(["exists", "in", "any", "some", "all", "array"]);

interface Token {
  kind: "word" | "quoted" | "string" | "(" | ")" | "other";
  text: string;
}

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const quoted = (quote: string): string => {
    // Deparsed literals and identifiers escape their quote by doubling it.
    let text = "";
    i += 1;
    while (i < expression.length) {
      if (expression[i] === quote) {
        if (expression[i + 1] !== quote) break;
        i += 1;
      }
      text += expression[i];
      i += 1;
    }
    i += 1;
    return text;
  };
  while (i < expression.length) {
    const char = expression[i]!;
    if (/\s/.test(char)) {
      i += 1;
    } else if (char === "'") {
      tokens.push({ kind: "string", text: quoted("'") });
    } else if (char === '"') {
      tokens.push({ kind: "quoted", text: quoted('"') });
    } else if (char === "(" || char === ")") {
      tokens.push({ kind: char, text: char });
      i += 1;
    } else if (/[A-Za-z_]/.test(char)) {
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(expression.slice(i))![0];
      tokens.push({ kind: "word", text: word.toLowerCase() });
      i += word.length;
    } else {
      tokens.push({ kind: "other", text: char });
      i += 1;
    }
  }
  return tokens;
}

/**
 * The identity calls (`current_setting(…)`, `<any schema>.current_user_id(…)`) in a
 * deparsed policy expression whose innermost enclosing sub-select is not a scalar
 * `( SELECT …)`, in order of appearance, without repeats. Works on pg_get_expr()
 * output: string literals are skipped, and a function's schema and quoting do
 * not matter. It cannot tell a correlated scalar sub-select (evaluated per row)
 * from an uncorrelated one; the project's form `(select current_user_id())` is not.
 */
export function unwrappedIdentityCalls(expression: string): string[] {
  const tokens = tokenize(expression);
  const frames: Array<"scalar" | "set" | "paren"> = [];
  const found = new Set<string>();
  tokens.forEach((token, index) => {
    const next = tokens[index + 1];
    if (token.kind === "(") {
      const opensQuery = next?.kind === "word" && (next.text === "select" || next.text === "with");
      const previous = tokens[index - 1];
      const setKeyword = previous?.kind === "word" && SET_SUBLINK_KEYWORDS.has(previous.text);
      frames.push(opensQuery ? (setKeyword ? "set" : "scalar") : "paren");
    } else if (token.kind === ")") {
      frames.pop();
    } else if ((token.kind === "word" || token.kind === "quoted") && next?.kind === "(") {
      // Words arrive lower-cased; a quoted name keeps its case and is matched as written.
      const name = token.text;
      if (!IDENTITY_FUNCTIONS.has(name)) return;
      const subSelect = frames.findLast((frame) => frame !== "paren");
      if (subSelect !== "scalar") found.add(name);
    }
  });
  return [...found];
}

// 5. Policies add their condition to every query: without an index leading with
// each column they filter on, every query on the table is a sequential scan.
// A partial index does not count: it serves only queries that imply its predicate.
const unindexedPolicyColumns: Rule = async (client, schemas) => {
  const columns = await rows<{ object: string; table: string; column: string; policies: string[] }>(
    client,
    `select quote_ident(rn.nspname) || '.' || quote_ident(rc.relname) || '.' || quote_ident(a.attname) as object,
            quote_ident(rn.nspname) || '.' || quote_ident(rc.relname) as table,
            quote_ident(a.attname) as column,
            array_agg(distinct quote_ident(p.polname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)) as policies
     from pg_policy p
     join pg_class c on c.oid = p.polrelid
     join pg_namespace n on n.oid = c.relnamespace
     join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid
                     and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0
     join pg_class rc on rc.oid = d.refobjid
     join pg_namespace rn on rn.oid = rc.relnamespace
     join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
     where n.nspname = any($1) and rc.relkind in ('r', 'p', 'm')
       and not exists (
         select 1 from pg_index i
         where i.indrelid = d.refobjid and i.indkey[0] = d.refobjsubid and i.indisvalid and i.indpred is null
       )
     group by 1, 2, 3`,
    schemas,
  );
  return columns.map(({ object, table, column, policies }) => ({
    rule: "unindexed-policy-column",
    object,
    message: `${column} is read by ${policies.length === 1 ? "policy" : "policies"} ${policies.join(", ")}, but no index on ${table} leads with it, so checking the policy reads all of ${table}: create index on ${table} (${column})`,
  }));
};

// 6. A security definer function runs with its owner's rights; without a fixed
// search_path the caller can put an object named like one it uses in front of it.
const definersWithoutSearchPath: Rule = async (client, schemas) => {
  const functions = await rows<{ object: string; kind: string }>(
    client,
    `select quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || oidvectortypes(p.proargtypes) || ')' as object,
            case p.prokind when 'p' then 'procedure' else 'function' end as kind
     from pg_proc p
     join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = any($1) and p.prosecdef
       and not exists (select 1 from unnest(p.proconfig) setting where setting like 'search_path=%')`,
    schemas,
  );
  return functions.map(({ object, kind }) => ({
    rule: "definer-without-search-path",
    object,
    message: `security definer ${kind} without its own search_path: a caller can shadow the objects it uses with its own, running them with the owner's rights: alter ${kind} ${object} set search_path = pg_catalog, pg_temp`,
  }));
};

// 7. A view runs with its owner's rights by default, and the owner is not bound by
// the underlying tables' policies unless they are forced: the view would bypass RLS.
const viewsWithoutSecurityInvoker: Rule = async (client, schemas) => {
  const views = await rows<{ object: string }>(
    client,
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any($1) and c.relkind = 'v'
       and not coalesce((
         select o.option_value::boolean from pg_options_to_table(c.reloptions) o
         where o.option_name = 'security_invoker'
       ), false)`,
    schemas,
  );
  return views.map(({ object }) => ({
    rule: "view-without-security-invoker",
    object,
    message: `the view checks privileges and policies as its owner, not as the user querying it: alter view ${object} set (security_invoker = true)`,
  }));
};

// 8. A table-level insert/update grant covers every column, including user_id and
// timestamps, and every column added later: the project lists columns instead.
const grantsWithoutColumnList: Rule = async (client, schemas) => {
  const grants = await rows<{ object: string; role: string; privileges: string[] }>(
    client,
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object,
            case when acl.grantee = 0 then 'public' else acl.grantee::regrole::text end as role,
            array_agg(acl.privilege_type order by acl.privilege_type) as privileges
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     cross join lateral aclexplode(c.relacl) acl
     where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'f')
       and acl.privilege_type in ('INSERT', 'UPDATE') and acl.grantee <> c.relowner
     group by 1, 2`,
    schemas,
  );
  return grants.map(({ object, role, privileges }) => ({
    rule: "grant-without-column-list",
    object,
    message: `${role} has table-level ${privileges.join(", ")}, which covers every column, also those the server sets and those added later: revoke ${lower(privileges)} on ${object} from ${role}; grant ${privileges.map((p) => `${p.toLowerCase()} (<column>, …)`).join(", ")} on ${object} to ${role}`,
  }));
};

// 9. PUBLIC is every role, including ones created after the review. NULL acls mean
// the built-in defaults, which give PUBLIC execute on functions and usage on types.
const grantsToPublic: Rule = async (client, schemas) => {
  const grants = await rows<{ kind: string; object: string; privileges: string[]; fix: string }>(
    client,
    `with public_grants as (
       select 'schema' as kind, quote_ident(n.nspname) as object, a.privilege_type,
              'revoke' as verb, null::text as column_name, 'schema ' || quote_ident(n.nspname) as target
       from pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
       where n.nspname = any($1) and a.grantee = 0
       union all
       select case c.relkind when 'S' then 'sequence' when 'v' then 'view' when 'm' then 'materialized view'
                             when 'f' then 'foreign table' else 'table' end,
              quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.privilege_type, 'revoke', null,
              case c.relkind when 'S' then 'sequence ' else 'table ' end
                || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       cross join lateral aclexplode(c.relacl) a
       where n.nspname = any($1) and a.grantee = 0
       union all
       select 'column', quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(att.attname),
              a.privilege_type, 'revoke', quote_ident(att.attname),
              'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
       from pg_attribute att
       join pg_class c on c.oid = att.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       cross join lateral aclexplode(att.attacl) a
       where n.nspname = any($1) and not att.attisdropped and a.grantee = 0
       union all
       select f.kind, f.name, a.privilege_type, 'revoke', null, f.kind || ' ' || f.name
       from pg_proc p
       join pg_namespace n on n.oid = p.pronamespace
       cross join lateral (
         select case p.prokind when 'p' then 'procedure' else 'function' end as kind,
                quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || oidvectortypes(p.proargtypes) || ')' as name
       ) f
       cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
       where n.nspname = any($1) and a.grantee = 0
       union all
       select case t.typtype when 'd' then 'domain' else 'type' end,
              quote_ident(n.nspname) || '.' || quote_ident(t.typname), a.privilege_type, 'revoke', null,
              case t.typtype when 'd' then 'domain ' else 'type ' end
                || quote_ident(n.nspname) || '.' || quote_ident(t.typname)
       from pg_type t
       join pg_namespace n on n.oid = t.typnamespace
       cross join lateral aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
       where n.nspname = any($1) and a.grantee = 0
         -- Array, multirange and row types take their privileges from their
         -- element, range or table; their own acl is never consulted.
         and not (t.typelem <> 0 and t.typcategory = 'A') and t.typtype <> 'm' and t.typrelid = 0
       union all
       -- Default privileges in a schema can only add grants: one to PUBLIC
       -- reaches every object created there later.
       select 'default privileges', quote_ident(n.nspname), a.privilege_type,
              'alter default privileges for role ' || d.defaclrole::regrole::text
                || ' in schema ' || quote_ident(n.nspname) || ' revoke',
              null,
              case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                                   when 'T' then 'types' else 'schemas' end
       from pg_default_acl d
       join pg_namespace n on n.oid = d.defaclnamespace
       cross join lateral aclexplode(d.defaclacl) a
       where n.nspname = any($1) and a.grantee = 0
     )
     select kind, object, array_agg(privilege_type order by privilege_type) as privileges,
            verb || ' ' || string_agg(lower(privilege_type) || coalesce(' (' || column_name || ')', ''), ', '
                                      order by privilege_type)
              || ' on ' || target || ' from public' as fix
     from public_grants
     group by kind, object, verb, target`,
    schemas,
  );
  return grants.map(({ kind, object, privileges, fix }) => ({
    rule: "granted-to-public",
    object,
    message:
      kind === "default privileges"
        ? `default privileges in ${object} give PUBLIC (every role) ${privileges.join(", ")} on every new object: ${fix}`
        : `PUBLIC (every role) has ${privileges.join(", ")} on ${kind} ${object}: ${fix}`,
  }));
};
