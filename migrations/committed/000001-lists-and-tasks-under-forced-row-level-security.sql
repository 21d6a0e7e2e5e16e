--! Previous: -
--! Hash: sha1:712aedc8fc53929d08fba409d4f56f2caf15f4b0
--! Message: Lists and tasks under forced row-level security

/*
 * Tasks API — the first migration: schemas, identity, lists and tasks, all
 * under forced row-level security. Runs as :DATABASE_OWNER.
 *
 * Reading order per object: table → row-level security → indexes → policies →
 * grants → comments → triggers.
 */

/*
 * Zero trust. Nothing is reachable by PUBLIC: not the `public` schema, not the
 * functions or types the owner will create. Every privilege below is granted to a
 * named role on purpose.
 */
revoke all on schema public from public;
alter default privileges revoke all on functions from public;
alter default privileges revoke all on types from public;
alter default privileges revoke all on sequences from public;

/*
 * app_public is what PostGraphile exposes; app_private holds internals (trigger
 * functions) that no request role may even look into.
 */
create schema app_public;
create schema app_private;
grant usage on schema app_public to :DATABASE_USER, :DATABASE_ANONYMOUS;
comment on schema app_public is E'The Tasks API: everything here is exposed through GraphQL, guarded by row-level security.';
comment on schema app_private is E'Internals of the Tasks API; never exposed, no request role has usage.';

/*
 * Identity. The API sets `request.jwt.claims` (the verified token's claims, JSON)
 * transaction-locally; this is the one place that reads it. Outside a request the
 * setting is unset or '' (after a local value expires), both mean "nobody".
 * `stable`, so policies that call it through a sub-select evaluate it once per
 * statement (an InitPlan), not once per row.
 */
create function app_public.current_user_id() returns text
  language sql stable parallel safe
  as $$
    select nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '')
  $$;
grant execute on function app_public.current_user_id() to :DATABASE_USER, :DATABASE_ANONYMOUS;
comment on function app_public.current_user_id() is E'The id (`sub` claim) of the user making the request, or null for an anonymous request.';

/*
 * Types shared by the tables. Types are usable by PUBLIC unless revoked, so the
 * grants are explicit.
 */
create type app_public.task_priority as enum ('none', 'low', 'medium', 'high', 'urgent');
revoke all on type app_public.task_priority from public;
grant usage on type app_public.task_priority to :DATABASE_USER;
comment on type app_public.task_priority is E'How urgent a task is; sorts from `NONE` to `URGENT`.';

create domain app_public.tag as text
  constraint tag_length check (value is not null and char_length(value) between 1 and 50);
revoke all on domain app_public.tag from public;
grant usage on domain app_public.tag to :DATABASE_USER;
comment on domain app_public.tag is E'A short label on a task: 1 to 50 characters, no surrounding whitespace.';

/*
 * Trigger functions shared by both tables.
 * tg__timestamps: `created_at` is the insert time and never changes; `updated_at`
 * is the time of the latest change. Neither is writable by clients (grants), this
 * keeps the owner and the database's own updates honest too.
 */
create function app_private.tg__timestamps() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    if tg_op = 'INSERT' then
      new.created_at := now();
    else
      new.created_at := old.created_at;
    end if;
    new.updated_at := now();
    return new;
  end;
  $$;
comment on function app_private.tg__timestamps() is E'Keeps created_at fixed at insert time and updated_at at the time of the latest change.';

/*
 * ---------------------------------------------------------------------------
 * lists: a user's task lists.
 * `(user_id, id)` is unique so that tasks can reference a list *together with its
 * owner*: foreign-key checks bypass RLS, and the composite key is what stops a
 * task from pointing at someone else's list.
 * ---------------------------------------------------------------------------
 */
create table app_public.lists (
  id uuid primary key default gen_random_uuid(),
  user_id text not null default app_public.current_user_id(),
  name text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint lists_user_id_length check (char_length(user_id) between 1 and 255),
  constraint lists_name_length check (char_length(name) between 1 and 200),
  constraint lists_user_id_id_key unique (user_id, id)
);
alter table app_public.lists enable row level security;
alter table app_public.lists force row level security;

-- (user_id, id) above serves the policies; this one the "my lists, newest first" page.
create index lists_user_id_created_at_idx on app_public.lists (user_id, created_at desc, id desc);

create policy select_own on app_public.lists for select to :DATABASE_USER
  using (user_id = (select app_public.current_user_id()));
create policy insert_own on app_public.lists for insert to :DATABASE_USER
  with check (user_id = (select app_public.current_user_id()));
create policy update_own on app_public.lists for update to :DATABASE_USER
  using (user_id = (select app_public.current_user_id()))
  with check (user_id = (select app_public.current_user_id()));
create policy delete_own on app_public.lists for delete to :DATABASE_USER
  using (user_id = (select app_public.current_user_id()));

grant select, delete on app_public.lists to :DATABASE_USER;
grant insert (name), update (name) on app_public.lists to :DATABASE_USER;

comment on table app_public.lists is E'A list that groups some of the user''s tasks.';
comment on column app_public.lists.id is E'The list''s unique id.';
comment on column app_public.lists.user_id is E'The owner: the `sub` of the token that created the list. Set by the server, never by clients.';
comment on column app_public.lists.name is E'The list''s name: 1 to 200 characters; surrounding whitespace is removed.';
comment on column app_public.lists.created_at is E'When the list was created.';
comment on column app_public.lists.updated_at is E'When the list was last changed.';

create function app_private.tg_lists__normalize() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    new.name := btrim(new.name, E' \t\r\n');
    return new;
  end;
  $$;
comment on function app_private.tg_lists__normalize() is E'Removes surrounding whitespace from a list''s name before it is checked.';

create trigger _100_timestamps before insert or update on app_public.lists
  for each row execute function app_private.tg__timestamps();
create trigger _200_normalize before insert or update on app_public.lists
  for each row execute function app_private.tg_lists__normalize();

/*
 * ---------------------------------------------------------------------------
 * tasks: the user's tasks, optionally in one of the user's lists.
 * The composite foreign key (user_id, list_id) can only match a list with the same
 * user_id; deleting that list sets only list_id to null (Postgres 15+).
 * ---------------------------------------------------------------------------
 */
create table app_public.tasks (
  id uuid primary key default gen_random_uuid(),
  user_id text not null default app_public.current_user_id(),
  list_id uuid,
  title text not null,
  description text,
  completed boolean not null default false,
  completed_at timestamptz,
  priority app_public.task_priority not null default 'none',
  due_at timestamptz,
  tags app_public.tag[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tasks_user_id_length check (char_length(user_id) between 1 and 255),
  constraint tasks_title_length check (char_length(title) between 1 and 500),
  constraint tasks_description_length check (char_length(description) <= 10000),
  constraint tasks_completed_at_matches_completed check (completed = (completed_at is not null)),
  constraint tasks_tags_count check (cardinality(tags) <= 20),
  constraint tasks_list_id_fkey foreign key (user_id, list_id)
    references app_public.lists (user_id, id) on delete set null (list_id)
);
alter table app_public.tasks enable row level security;
alter table app_public.tasks force row level security;

/*
 * Every index leads with user_id: it serves the policies and keeps each query
 * inside one user's rows.
 */
create index tasks_user_id_created_at_idx on app_public.tasks (user_id, created_at desc, id desc);
create index tasks_user_id_open_due_at_idx on app_public.tasks (user_id, due_at) where not completed;
create index tasks_user_id_list_id_idx on app_public.tasks (user_id, list_id);
create index tasks_user_id_priority_idx on app_public.tasks (user_id, priority);

create policy select_own on app_public.tasks for select to :DATABASE_USER
  using (user_id = (select app_public.current_user_id()));
create policy insert_own on app_public.tasks for insert to :DATABASE_USER
  with check (user_id = (select app_public.current_user_id()));
create policy update_own on app_public.tasks for update to :DATABASE_USER
  using (user_id = (select app_public.current_user_id()))
  with check (user_id = (select app_public.current_user_id()));
create policy delete_own on app_public.tasks for delete to :DATABASE_USER
  using (user_id = (select app_public.current_user_id()));

grant select, delete on app_public.tasks to :DATABASE_USER;
grant
  insert (list_id, title, description, completed, priority, due_at, tags),
  update (list_id, title, description, completed, priority, due_at, tags)
  on app_public.tasks to :DATABASE_USER;

comment on table app_public.tasks is E'A thing the user wants to get done.';
comment on column app_public.tasks.id is E'The task''s unique id.';
comment on column app_public.tasks.user_id is E'The owner: the `sub` of the token that created the task. Set by the server, never by clients.';
comment on column app_public.tasks.list_id is E'The list the task is in, if any; it must be one of the user''s own lists. Deleting the list leaves the task without one.';
comment on column app_public.tasks.title is E'What to do: 1 to 500 characters; surrounding whitespace is removed.';
comment on column app_public.tasks.description is E'Optional details, up to 10,000 characters.';
comment on column app_public.tasks.completed is E'Whether the task is done.';
comment on column app_public.tasks.completed_at is E'When the task was completed; set by the server when `completed` becomes true, cleared when it becomes false.';
comment on column app_public.tasks.priority is E'How urgent the task is.';
comment on column app_public.tasks.due_at is E'When the task is due, if ever.';
comment on column app_public.tasks.tags is E'Up to 20 distinct labels of 1 to 50 characters; surrounding whitespace and repeats are removed.';
comment on column app_public.tasks.created_at is E'When the task was created.';
comment on column app_public.tasks.updated_at is E'When the task was last changed.';

/*
 * Normalisation happens before the checks, so `"  Buy milk "` is stored as
 * `"Buy milk"` and `["a", " a "]` as `["a"]`; what is still invalid afterwards
 * (an empty title, a 51-character tag) is refused by a named constraint.
 */
create function app_private.tg_tasks__normalize() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    new.title := btrim(new.title, E' \t\r\n');
    new.tags := array(
      select t
      from (
        select btrim(tag::text, E' \t\r\n') as t, min(ord) as first_seen
        from unnest(new.tags) with ordinality as u(tag, ord)
        group by 1
      ) distinct_tags
      order by first_seen
    )::app_public.tag[];
    return new;
  end;
  $$;
comment on function app_private.tg_tasks__normalize() is E'Trims the title and tags and drops repeated tags, keeping the first occurrence''s position.';

/*
 * completed_at follows completed: set when a task becomes completed, kept while
 * it stays completed, cleared when it is reopened.
 */
create function app_private.tg_tasks__completed_at() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    if not new.completed then
      new.completed_at := null;
    elsif tg_op = 'UPDATE' and old.completed then
      new.completed_at := old.completed_at;
    else
      new.completed_at := now();
    end if;
    return new;
  end;
  $$;
comment on function app_private.tg_tasks__completed_at() is E'Keeps completed_at consistent with completed.';

create trigger _100_timestamps before insert or update on app_public.tasks
  for each row execute function app_private.tg__timestamps();
create trigger _200_normalize before insert or update on app_public.tasks
  for each row execute function app_private.tg_tasks__normalize();
create trigger _300_completed_at before insert or update on app_public.tasks
  for each row execute function app_private.tg_tasks__completed_at();
