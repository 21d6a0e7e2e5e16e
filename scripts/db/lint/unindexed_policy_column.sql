-- unindexed-policy-column: a column a policy reads (of its own table, or of another
-- table its sub-selects read) that no index leads with.
--
-- Why it matters: a policy adds its condition to every query on the table; without
-- an index whose first key is each column it filters on, checking the policy reads
-- the whole table. A partial index does not count: it serves only the queries that
-- imply its predicate. The columns come from pg_depend, where Postgres records
-- every column a policy's expressions reference.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
with unindexed as (
  select quote_ident(rn.nspname) || '.' || quote_ident(rc.relname) as "table",
         quote_ident(a.attname) as "column",
         count(distinct p.oid) as policy_count,
         string_agg(distinct quote_ident(p.polname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                    ', ') as policies
  from pg_policy p
  join pg_class c on c.oid = p.polrelid
  join pg_namespace n on n.oid = c.relnamespace
  join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid
                  and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0
  join pg_class rc on rc.oid = d.refobjid
  join pg_namespace rn on rn.oid = rc.relnamespace
  join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
  where n.nspname = any(current_setting('lint.schemas')::text[])
    and rc.relkind in ('r', 'p', 'm')
    and not exists (
      select 1 from pg_index i
      where i.indrelid = d.refobjid and i.indkey[0] = d.refobjsubid and i.indisvalid and i.indpred is null
    )
  group by 1, 2
)
select 'unindexed-policy-column' as rule, "table" || '.' || "column" as object,
       format('%s is read by %s %s, but no index on %s leads with it, so checking the policy reads all of %s: '
              'create index on %s (%s)',
              "column", case when policy_count = 1 then 'policy' else 'policies' end, policies,
              "table", "table", "table", "column") as message
from unindexed
order by object;
