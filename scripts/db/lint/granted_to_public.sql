-- granted-to-public: any privilege PUBLIC holds on a schema, table, view, sequence,
-- column, function, procedure, type or domain, and default privileges in a schema
-- that give PUBLIC one on every object created there later.
--
-- Why it matters: PUBLIC is every role, including ones created after the review.
-- A NULL acl means the built-in defaults, which give PUBLIC execute on functions
-- and usage on types, so those count too (acldefault). Array, multirange and row
-- types are skipped: Postgres consults their element's, range's or table's acl.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
with public_grants as (
  select 'schema' as kind, quote_ident(n.nspname) as object, a.privilege_type,
         'revoke' as verb, null::text as column_name, 'schema ' || quote_ident(n.nspname) as target
  from pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
  where n.nspname = any(current_setting('lint.schemas')::text[]) and a.grantee = 0
  union all
  select case c.relkind when 'S' then 'sequence' when 'v' then 'view' when 'm' then 'materialized view'
                        when 'f' then 'foreign table' else 'table' end,
         quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.privilege_type, 'revoke', null,
         case c.relkind when 'S' then 'sequence ' else 'table ' end
           || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(c.relacl) a
  where n.nspname = any(current_setting('lint.schemas')::text[]) and a.grantee = 0
  union all
  select 'column', quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(att.attname),
         a.privilege_type, 'revoke', quote_ident(att.attname),
         'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
  from pg_attribute att
  join pg_class c on c.oid = att.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(att.attacl) a
  where n.nspname = any(current_setting('lint.schemas')::text[]) and not att.attisdropped and a.grantee = 0
  union all
  select f.kind, f.name, a.privilege_type, 'revoke', null, f.kind || ' ' || f.name
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  cross join lateral (
    select case p.prokind when 'p' then 'procedure' else 'function' end as kind,
           quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || oidvectortypes(p.proargtypes) || ')' as name
  ) f
  cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
  where n.nspname = any(current_setting('lint.schemas')::text[]) and a.grantee = 0
  union all
  select case t.typtype when 'd' then 'domain' else 'type' end,
         quote_ident(n.nspname) || '.' || quote_ident(t.typname), a.privilege_type, 'revoke', null,
         case t.typtype when 'd' then 'domain ' else 'type ' end
           || quote_ident(n.nspname) || '.' || quote_ident(t.typname)
  from pg_type t
  join pg_namespace n on n.oid = t.typnamespace
  cross join lateral aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
  where n.nspname = any(current_setting('lint.schemas')::text[]) and a.grantee = 0
    and not (t.typelem <> 0 and t.typcategory = 'A') and t.typtype <> 'm' and t.typrelid = 0
  union all
  -- Default privileges can only add grants: one to PUBLIC reaches every new object.
  select 'default privileges', quote_ident(n.nspname), a.privilege_type,
         'alter default privileges for role ' || d.defaclrole::regrole::text
           || ' in schema ' || quote_ident(n.nspname) || ' revoke',
         null,
         case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                              when 'T' then 'types' else 'schemas' end
  from pg_default_acl d
  join pg_namespace n on n.oid = d.defaclnamespace
  cross join lateral aclexplode(d.defaclacl) a
  where n.nspname = any(current_setting('lint.schemas')::text[]) and a.grantee = 0
),
grouped as (
  select kind, object, string_agg(privilege_type, ', ' order by privilege_type) as privileges,
         verb || ' ' || string_agg(lower(privilege_type) || coalesce(' (' || column_name || ')', ''), ', '
                                   order by privilege_type)
           || ' on ' || target || ' from public' as fix
  from public_grants
  group by kind, object, verb, target
)
select 'granted-to-public' as rule, object,
       case when kind = 'default privileges'
            then format('default privileges in %s give PUBLIC (every role) %s on every new object: %s',
                        object, privileges, fix)
            else format('PUBLIC (every role) has %s on %s %s: %s', privileges, kind, object, fix)
       end as message
from grouped
order by object, kind;
