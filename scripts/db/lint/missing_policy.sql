-- missing-policy: a role granted select, insert, update or delete on a table (on the
-- whole table or on some of its columns) with no policy for that command that
-- applies to it.
--
-- Why it matters: under row-level security a command without a policy sees no
-- rows and refuses every write, so either the grant is a mistake or the policy
-- was forgotten. Postgres applies a policy to the roles named in it, to the
-- members that inherit their privileges, and a policy to PUBLIC to everyone.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
with grants as (
  select c.oid as relid, acl.grantee, acl.privilege_type as command
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(c.relacl) acl
  where n.nspname = any(current_setting('lint.schemas')::text[]) and c.relkind in ('r', 'p')
    and acl.privilege_type in ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
    and acl.grantee <> c.relowner
  union
  select c.oid, acl.grantee, acl.privilege_type
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(a.attacl) acl
  where n.nspname = any(current_setting('lint.schemas')::text[]) and c.relkind in ('r', 'p')
    and not a.attisdropped
    and acl.privilege_type in ('SELECT', 'INSERT', 'UPDATE')
    and acl.grantee <> c.relowner
),
gaps as (
  select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object,
         case when g.grantee = 0 then 'public' else g.grantee::regrole::text end as role,
         string_agg(g.command, ', '
                    order by array_position(array['SELECT', 'INSERT', 'UPDATE', 'DELETE'], g.command)) as commands
  from grants g
  join pg_class c on c.oid = g.relid
  join pg_namespace n on n.oid = c.relnamespace
  where not exists (
    select 1 from pg_policy p
    where p.polrelid = g.relid
      and p.polcmd in ('*', case g.command when 'SELECT' then 'r' when 'INSERT' then 'a'
                                           when 'UPDATE' then 'w' when 'DELETE' then 'd' end)
      and (0 = any(p.polroles)
           or exists (select 1 from unnest(p.polroles) r where pg_has_role(g.grantee, r, 'usage')))
  )
  group by 1, 2
)
select 'missing-policy' as rule, object,
       format('%s is granted %s but no policy for %s applies to it, so row level security hides or refuses every row: '
              'create policy … on %s for %s to %s …, or revoke %s on %s from %s',
              role, commands, lower(commands), object, lower(commands), role, lower(commands), object, role) as message
from gaps
order by object, role;
