-- unwrapped-identity: a policy that calls current_user_id() or current_setting()
-- outside a scalar sub-select.
--
-- Why it matters: a call written bare, `user_id = current_user_id()`, is evaluated
-- for every row the query scans (a function call and a JSON parse each time);
-- written `user_id = (select current_user_id())` it becomes an InitPlan, evaluated
-- once per statement. A call directly inside EXISTS, IN, ANY or ARRAY sub-selects
-- still runs per row: those sub-selects are re-run for each outer row.
--
-- How: reads the policy's stored expression tree (pg_policy.polqual/polwithcheck),
-- not its text, so string literals, quoting and schema prefixes cannot fool it. In
-- that tree a function call is `{FUNCEXPR :funcid <oid>`, a sub-select is
-- `{SUBLINK :subLinkType <n> … :subselect {QUERY …}`, where type 4 (EXPR) is the
-- scalar `(select …)` and 3 (ROWCOMPARE) its row form; the others are EXISTS (0),
-- ALL (1), ANY/IN (2) and ARRAY (6). A call is wrapped when the innermost
-- sub-select around it is scalar. Like the `(select …)` form itself, it cannot
-- tell a correlated scalar sub-select (evaluated per row) from an uncorrelated one.
--
-- Needs: set lint.schemas = '{app_public,app_private,app_meta}';
with clauses as (
  select p.oid as policy, c.position, c.clause,
         -- A backslash escapes the next character (a brace in a name, say): drop both.
         regexp_replace(c.tree, '\\.', '', 'g') as tree
  from pg_policy p
  join pg_class t on t.oid = p.polrelid
  join pg_namespace n on n.oid = t.relnamespace
  cross join lateral (
    values (1, 'using', p.polqual::text), (2, 'with check', p.polwithcheck::text)
  ) c(position, clause, tree)
  where n.nspname = any(current_setting('lint.schemas')::text[]) and c.tree is not null
),
-- The braces of the tree, in order; the alternatives that open with a brace are
-- matched whole, so each counts once. A node's level is the depth its opening
-- brace reaches, and its closing brace is the one that leaves that level.
braces as (
  select policy, position, at, token,
         case when token = '}' then depth + 1 else depth end as level
  from (
    select c.policy, c.position, m.at, m.token[1] as token,
           sum(case when m.token[1] = '}' then -1 else 1 end)
             over (partition by c.policy, c.position order by m.at) as depth
    from clauses c
    cross join lateral regexp_matches(
      c.tree, '(\{SUBLINK :subLinkType \d+|:subselect \{|\{FUNCEXPR :funcid \d+|\{|\})', 'g'
    ) with ordinality m(token, at)
  ) counted
),
-- At each level opening and closing braces alternate: the k-th of each pair up.
numbered as (
  select b.*, row_number() over (partition by policy, position, level, token = '}' order by at) as k
  from braces b
),
nodes as (
  select o.policy, o.position, o.token, o.level, o.at as opens, c.at as closes
  from numbered o
  join numbered c on c.policy = o.policy and c.position = o.position and c.level = o.level
                 and c.k = o.k and c.token = '}'
  where o.token <> '}'
),
-- Each sub-select's query, and whether the SUBLINK it belongs to is scalar.
scopes as (
  select q.policy, q.position, q.opens, q.closes, substring(l.token from '\d+')::int in (3, 4) as scalar
  from nodes q
  join nodes l on l.policy = q.policy and l.position = q.position and l.level = q.level - 1
              and l.opens < q.opens and l.closes > q.closes and l.token like '{SUBLINK%'
  where q.token = ':subselect {'
),
-- Every function call with the innermost sub-select around it, if any.
calls as (
  select distinct on (f.policy, f.position, f.opens)
         f.policy, f.position, f.opens as at, substring(f.token from '\d+')::oid as funcid,
         coalesce(s.scalar, false) as wrapped
  from nodes f
  left join scopes s on s.policy = f.policy and s.position = f.position and s.opens < f.opens and s.closes > f.opens
  where f.token like '{FUNCEXPR%'
  order by f.policy, f.position, f.opens, s.opens desc nulls last
),
per_clause as (
  select c.policy, c.position,
         cl.clause || ' calls ' || string_agg(pr.proname || '()', ' and ' order by c.first_at) as calls
  from (
    select policy, position, funcid, min(at) as first_at
    from calls
    where not wrapped
    group by 1, 2, 3
  ) c
  join pg_proc pr on pr.oid = c.funcid
  join clauses cl on cl.policy = c.policy and cl.position = c.position
  where pr.proname in ('current_user_id', 'current_setting')
  group by c.policy, c.position, cl.clause
)
select 'unwrapped-identity' as rule,
       quote_ident(p.polname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(t.relname) as object,
       string_agg(u.calls, '; ' order by u.position)
         || ' once per row: wrap each call in a scalar sub-select, e.g. user_id = (select current_user_id()),'
         || ' so Postgres evaluates it once per statement' as message
from per_clause u
join pg_policy p on p.oid = u.policy
join pg_class t on t.oid = p.polrelid
join pg_namespace n on n.oid = t.relnamespace
group by p.oid, p.polname, n.nspname, t.relname
order by object;
