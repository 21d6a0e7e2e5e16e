-- policy-to-public: a policy without a `to` clause, or written `to public`.
--
-- Why it matters: such a policy applies to PUBLIC, that is to every role, present
-- and future, not only to the request role it was written for.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
select 'policy-to-public' as rule, f.object,
       'the policy applies to PUBLIC (it has no `to` clause), so it also binds every role created later: alter policy '
         || f.object || ' to <the request role>' as message
from pg_policy p
join pg_class c on c.oid = p.polrelid
join pg_namespace n on n.oid = c.relnamespace
cross join lateral (
  select quote_ident(p.polname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) as object
) f
where n.nspname = any(current_setting('lint.schemas')::text[])
  and 0 = any(p.polroles)
order by f.object;
