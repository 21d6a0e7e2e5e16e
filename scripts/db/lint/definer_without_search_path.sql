-- definer-without-search-path: a security definer function or procedure without its
-- own search_path setting.
--
-- Why it matters: it runs with its owner's rights, and resolves the names in its
-- body through the caller's search_path, so a caller can put an object named like
-- one it uses in front of it and have the owner run that instead.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
select 'definer-without-search-path' as rule, f.object,
       format('security definer %s without its own search_path: a caller can shadow the objects it uses with its own, '
              'running them with the owner''s rights: alter %s %s set search_path = pg_catalog, pg_temp',
              f.kind, f.kind, f.object) as message
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
cross join lateral (
  select quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || oidvectortypes(p.proargtypes) || ')' as object,
         case p.prokind when 'p' then 'procedure' else 'function' end as kind
) f
where n.nspname = any(current_setting('lint.schemas')::text[])
  and p.prosecdef
  and not exists (select 1 from unnest(p.proconfig) setting where setting like 'search_path=%')
order by f.object;
