/**
 * Seeding: N users × M tasks (and a few lists each), generated inside Postgres with
 * generate_series — no row-by-row round trips. Tasks per user follow a Zipf-like
 * law (user i gets a share ∝ i^-skew), so a few users have thousands of tasks and
 * most have a few dozen.
 *
 * Ids are derived from (prefix, user, task number) with md5, so pgbench and the
 * load generator can address a user's task without asking the database first.
 * Rows are inserted oldest first across all users, as a real table fills, so one
 * user's tasks are spread over the heap rather than packed together.
 *
 * Triggers are skipped (session_replication_role = replica, superuser only): they
 * would overwrite created_at with now(). The generated values are what the triggers
 * would keep (trimmed titles, distinct tags, completed_at matching completed), check
 * constraints still apply, and `verifySeed` proves the composite foreign key holds.
 */
import type { Client } from "pg";

export const SCALES = { "10k": 10_000, "1m": 1_000_000, "10m": 10_000_000 } as const;
export type Scale = keyof typeof SCALES;

export function parseScale(raw: string): Scale {
  const scale = raw.toLowerCase();
  if (!(scale in SCALES)) throw new Error(`--scale must be one of ${Object.keys(SCALES).join(", ")}, got "${raw}"`);
  return scale as Scale;
}

export interface SeedOptions {
  /** User ids are `<prefix><n>`, n from 1. */
  prefix: string;
  /** Roughly how many tasks in all (each user gets at least one). */
  tasks: number;
  /** Average tasks per user; users = tasks / this. */
  tasksPerUser?: number;
  /** Zipf exponent of tasks per user. */
  skew?: number;
  /** Rows per insert statement; each is its own statement so progress shows and memory stays bounded. */
  chunkRows?: number;
  log?: (line: string) => void;
}

export interface SeedResult {
  users: number;
  tasks: number;
  lists: number;
  seconds: number;
}

/** The id of task `n` (1 = oldest) of user `user`, as the seed generates it. */
export const taskIdSql = (prefix: string, user: string, n: string) =>
  `md5(${prefix} || 'task:' || ${user} || ':' || ${n})::uuid`;

/**
 * Inserts the rows through `client`, which must be a superuser connection. The caller
 * owns the transaction: the plan-shape test seeds inside one it rolls back.
 */
export async function seed(client: Client, options: SeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const tasksPerUser = options.tasksPerUser ?? 100;
  const users = Math.max(1, Math.round(options.tasks / tasksPerUser));
  const skew = options.skew ?? 0.8;
  const chunks = Math.max(1, Math.ceil(options.tasks / (options.chunkRows ?? 500_000)));
  const log = options.log ?? (() => {});

  await client.query("set session_replication_role = replica");
  await client.query("set work_mem = '256MB'");
  try {
    const lists = await client.query(
      `insert into app_public.lists (id, user_id, name, created_at, updated_at)
       select md5($1 || 'list:' || u || ':' || l)::uuid, $1 || u, 'List ' || l,
              now() - interval '400 days' + l * interval '1 day', now() - interval '400 days' + l * interval '1 day'
       from generate_series(1, $2::int) u cross join lateral generate_series(1, 1 + u % 5) l`,
      [options.prefix, users],
    );
    let tasks = 0;
    for (let chunk = 0; chunk < chunks; chunk++) {
      const inserted = await client.query(
        `with counts as (
           select u, greatest(1, round($3::float8 * power(u, -$4::float8) / sum(power(u, -$4::float8)) over ()))::int as n
           from generate_series(1, $2::int) u
         ), generated as (
           select c.u, c.n, t,
                  now() - interval '365 days' * ((c.n - t)::float8 / c.n) - interval '1 second' * ((c.u * 7919 + t) % 3600) as created,
                  (c.u + t * 7919) % 10 < 6 and t < c.n - 2 as done
           from counts c
           cross join lateral generate_series(floor(c.n::float8 * $5 / $6)::int + 1, floor(c.n::float8 * ($5 + 1) / $6)::int) t
         ), finished as (
           select *, case when done then least(now(), created + interval '1 hour' * (1 + t % 72)) end as finished_at
           from generated
         )
         insert into app_public.tasks
           (id, user_id, list_id, title, description, completed, completed_at, priority, due_at, tags, created_at, updated_at)
         select ${taskIdSql("$1", "u", "t")},
                $1 || u,
                case when t % 2 = 0 then md5($1 || 'list:' || u || ':' || (1 + t % (1 + u % 5)))::uuid end,
                'Task ' || t,
                case when t % 10 = 0 then 'Details of task ' || t end,
                done,
                finished_at,
                (enum_range(null::app_public.task_priority))[1 + (u * 31 + t * 17) % 5],
                case when t % 10 < 7 then now() + interval '1 hour' * ((u * 13 + t * 7919) % 1440 - 720) end,
                (case t % 4 when 0 then '{}' when 1 then '{work}' when 2 then '{home,errand}' else '{work,urgent}' end)::app_public.tag[],
                created,
                coalesce(finished_at, created)
         from finished
         order by created`,
        [options.prefix, users, options.tasks, skew, chunk, chunks],
      );
      tasks += inserted.rowCount ?? 0;
      if (chunks > 1) log(`seed: ${tasks.toLocaleString("en")} tasks (${chunk + 1}/${chunks})`);
    }
    return { users, tasks, lists: lists.rowCount ?? 0, seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.query("reset session_replication_role");
    await client.query("reset work_mem");
  }
}

/** Proves what the skipped triggers and foreign key would have enforced; throws otherwise. */
export async function verifySeed(client: Client, prefix: string): Promise<void> {
  const { rows } = await client.query<{ problem: string; count: string }>(
    `select 'task in a list that is not its user''s' as problem, count(*) from app_public.tasks t
       where t.user_id like $1 || '%' and t.list_id is not null
         and not exists (select 1 from app_public.lists l where l.user_id = t.user_id and l.id = t.list_id)
     union all
     select 'title or tags not normalised', count(*) from app_public.tasks t
       where t.user_id like $1 || '%'
         and (t.title <> btrim(t.title) or cardinality(t.tags) <> (select count(distinct x) from unnest(t.tags) x))
     union all
     select 'timestamps out of order', count(*) from app_public.tasks t
       where t.user_id like $1 || '%' and (t.updated_at < t.created_at or t.completed_at < t.created_at)`,
    [prefix],
  );
  const broken = rows.filter((r) => Number(r.count) > 0);
  if (broken.length > 0)
    throw new Error(`seeded data is invalid: ${broken.map((r) => `${r.count} × ${r.problem}`).join("; ")}`);
}

/**
 * The bench database keeps one scale per database; `bench.seeded` records a finished
 * seed so a later run reuses it (10M rows take minutes). A half-finished seed is redone.
 */
export async function ensureSeeded(client: Client, scale: Scale, log: (line: string) => void): Promise<SeedResult> {
  await client.query(
    `create schema if not exists bench;
     create table if not exists bench.seeded (
       scale text primary key, users int not null, tasks bigint not null, lists bigint not null,
       seconds numeric not null, at timestamptz not null default now())`,
  );
  const { rows } = await client.query<{ users: number; tasks: string; lists: string; seconds: string }>(
    "select users, tasks, lists, seconds from bench.seeded where scale = $1",
    [scale],
  );
  if (rows[0]) {
    log(`seed: reusing ${Number(rows[0].tasks).toLocaleString("en")} tasks of scale ${scale}`);
    return {
      users: rows[0].users,
      tasks: Number(rows[0].tasks),
      lists: Number(rows[0].lists),
      seconds: Number(rows[0].seconds),
    };
  }
  log(`seed: generating scale ${scale} (${SCALES[scale].toLocaleString("en")} tasks)`);
  await client.query("truncate app_public.tasks, app_public.lists");
  const result = await seed(client, { prefix: BENCH_PREFIX, tasks: SCALES[scale], log });
  await verifySeed(client, BENCH_PREFIX);
  await client.query("vacuum analyze app_public.lists");
  await client.query("vacuum analyze app_public.tasks");
  await client.query("insert into bench.seeded (scale, users, tasks, lists, seconds) values ($1, $2, $3, $4, $5)", [
    scale,
    result.users,
    result.tasks,
    result.lists,
    result.seconds,
  ]);
  log(
    `seed: ${result.tasks.toLocaleString("en")} tasks, ${result.lists.toLocaleString("en")} lists, ${result.users.toLocaleString("en")} users in ${result.seconds.toFixed(1)} s`,
  );
  return result;
}

export const BENCH_PREFIX = "bench-";
