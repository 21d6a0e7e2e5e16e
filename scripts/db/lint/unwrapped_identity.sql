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
-- The braces of the tree, in order, each with the depth it leaves behind. The
-- alternatives that start with a brace are matched whole, so they count once.
tokens as (
  select c.policy, c.position, c.clause, m.ordinality as at, m.token[1] as token,
         sum(case when m.token[1] = '}' then -1 else 1 end)
           over (partition by c.policy, c.position order by m.ordinality) as depth
  from clauses c
  cross join lateral regexp_matches(
    c.tree, '(\{SUBLINK :subLinkType \d+|:subselect \{|\{FUNCEXPR :funcid \d+|\{|\})', 'g'
  ) with ordinality m(token, ordinality)
),
-- Each sub-select's query: where it opens and closes, and whether it is scalar.
subselects as (
  select s.policy, s.position, s.at as opens,
         (select min(e.at) from tokens e
          where e.policy = s.policy and e.position = s.position
            and e.at > s.at and e.token = '}' and e.depth = s.depth - 1) as closes,
         (select substring(l.token from '\d+')::int in (3, 4) from tokens l
          where l.policy = s.policy and l.position = s.position
            and l.at < s.at and l.token like '{SUBLINK%' and l.depth = s.depth - 1
          order by l.at desc limit 1) as scalar
  from tokens s
  where s.token = ':subselect {'
),
-- Identity calls whose innermost enclosing sub-select, if any, is not scalar.
unwrapped as (
  select f.policy, f.position, f.clause, pr.proname, min(f.at) as first_at
  from tokens f
  join pg_proc pr on pr.oid = substring(f.token from '\d+')::oid
  where f.token like '{FUNCEXPR%'
    and pr.proname in ('current_user_id', 'current_setting')
    and not coalesce((
      select s.scalar from subselects s
      where s.policy = f.policy and s.position = f.position and s.opens < f.at and s.closes > f.at
      order by s.opens desc limit 1
    ), false)
  group by 1, 2, 3, 4
),
per_clause as (
  select policy, position,
         clause || ' calls ' || string_agg(proname || '()', ' and ' order by first_at) as calls
  from unwrapped
  group by policy, position, clause
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
