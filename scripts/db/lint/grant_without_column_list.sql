-- grant-without-column-list: insert or update granted on a whole table (or view or
-- foreign table) rather than on listed columns.
--
-- Why it matters: a table-level grant covers every column, including those the
-- database sets (user_id, timestamps) and every column added later; the project
-- grants writes column by column, so a new column is writable only on purpose.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
with grants as (
  select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object,
         case when acl.grantee = 0 then 'public' else acl.grantee::regrole::text end as role,
         array_agg(acl.privilege_type order by acl.privilege_type) as privileges
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(c.relacl) acl
  where n.nspname = any(current_setting('lint.schemas')::text[])
    and c.relkind in ('r', 'p', 'v', 'f')
    and acl.privilege_type in ('INSERT', 'UPDATE')
    and acl.grantee <> c.relowner
  group by 1, 2
)
select 'grant-without-column-list' as rule, object,
       format('%s has table-level %s, which covers every column, also those the server sets and those added later: '
              'revoke %s on %s from %s; grant %s on %s to %s',
              role, array_to_string(privileges, ', '), lower(array_to_string(privileges, ', ')), object, role,
              (select string_agg(lower(p) || ' (<column>, …)', ', ' order by p) from unnest(privileges) p),
              object, role) as message
from grants
order by object, role;
