-- rls-not-forced: a table whose row-level security is enabled but not forced.
--
-- Why it matters: an unforced policy does not bind the table's owner, so the
-- migrations and anything else running as the owner see and change every row.
-- (A table with row-level security disabled is rls-disabled's finding instead.)
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
select 'rls-not-forced' as rule, f.object,
       'row level security is not forced, so the table''s owner (and everything running as it) bypasses the policies: alter table '
         || f.object || ' force row level security' as message
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join lateral (select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object) f
where n.nspname = any(current_setting('lint.schemas')::text[])
  and c.relkind in ('r', 'p')
  and c.relrowsecurity
  and not c.relforcerowsecurity
order by f.object;
