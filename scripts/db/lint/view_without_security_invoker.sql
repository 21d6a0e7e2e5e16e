-- view-without-security-invoker: a view without security_invoker = true (Postgres 15+).
--
-- Why it matters: by default a view reads its tables with its owner's privileges,
-- and the owner is not bound by their policies unless they are forced: the view
-- would check neither the querying user's grants nor, possibly, their policies.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
select 'view-without-security-invoker' as rule, f.object,
       'the view checks privileges and policies as its owner, not as the user querying it: alter view '
         || f.object || ' set (security_invoker = true)' as message
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join lateral (select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object) f
where n.nspname = any(current_setting('lint.schemas')::text[])
  and c.relkind = 'v'
  and not coalesce((
    select o.option_value::boolean from pg_options_to_table(c.reloptions) o
    where o.option_name = 'security_invoker'
  ), false)
order by f.object;
