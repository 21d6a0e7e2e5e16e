-- rls-disabled: a table (or partitioned table) whose row-level security is off.
--
-- Why it matters: policies bind only when row-level security is enabled; without
-- it every grant on the table reaches every row. A table that was never set up
-- is not forced either, so the fix names both statements then.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
select 'rls-disabled' as rule, f.object,
       'row level security is disabled, so its policies are ignored and every grant reaches every row: alter table '
         || f.object || ' enable row level security'
         || case when c.relforcerowsecurity then '' else '; alter table ' || f.object || ' force row level security' end
         as message
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join lateral (select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object) f
where n.nspname = any(current_setting('lint.schemas')::text[])
  and c.relkind in ('r', 'p')
  and not c.relrowsecurity
order by f.object;
