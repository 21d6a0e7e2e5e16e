--! Previous: sha1:263951a694270dfac64e5fa75258064de1e7fb46
--! Hash: sha1:462449064d1473d635ca2ca644796eb49d0f32ff
--! Message: Optimistic concurrency: lists and tasks carry a version, kept by a trigger

/*
 * Optimistic concurrency. Every list and task carries a version: 1 when it is
 * inserted, one more after every update. A client that read version 3 and sends
 * `expectedVersion: 3` with its change gets the change only if nobody changed the
 * row since; the API makes that check part of the write itself
 * (`update … where id = $1 and version = $2`, see src/graphql/versions.ts).
 *
 * The trigger, not the client, decides the number: request roles get no insert or
 * update privilege on the column (so it is in no GraphQL input and a direct
 * `update … set version = …` is refused), and the trigger overrides whatever the
 * owner writes. Every update counts, including the one Postgres makes when a list
 * is deleted and its tasks' list_id is set to null: the task changed.
 * Idempotent: drops what it creates, in reverse order.
 */
drop trigger if exists _150_version on app_public.tasks;
drop trigger if exists _150_version on app_public.lists;
drop function if exists app_private.tg__version();
alter table app_public.tasks drop column if exists version;
alter table app_public.lists drop column if exists version;

/*
 * `not null default 1` fills existing rows with 1 without rewriting the table
 * (a constant default is stored in the catalog).
 */
alter table app_public.lists add column version integer not null default 1;
alter table app_public.tasks add column version integer not null default 1;

comment on column app_public.lists.version is E'How many times the list has been written: 1 when created, one more after every change. Send it back as `expectedVersion` to change or delete the list only if nobody has changed it since you read it.';
comment on column app_public.tasks.version is E'How many times the task has been written: 1 when created, one more after every change (also when deleting its list removes it from the list). Send it back as `expectedVersion` to change or delete the task only if nobody has changed it since you read it.';

/*
 * Runs as whoever writes the row and touches nothing but that row. A before-row
 * trigger sees the row as it is after waiting for any concurrent writer, so two
 * racing updates of version 3 yield 4 and then 5, never 4 twice.
 */
create function app_private.tg__version() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    if tg_op = 'INSERT' then
      new.version := 1;
    else
      new.version := old.version + 1;
    end if;
    return new;
  end;
  $$;
comment on function app_private.tg__version() is E'Keeps version at 1 for a new row and one more than before after every update, whatever was written to it.';

create trigger _150_version before insert or update on app_public.lists
  for each row execute function app_private.tg__version();
create trigger _150_version before insert or update on app_public.tasks
  for each row execute function app_private.tg__version();
