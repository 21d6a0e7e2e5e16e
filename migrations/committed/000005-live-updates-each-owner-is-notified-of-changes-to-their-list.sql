--! Previous: sha1:a5ed130aef045fa2a0eb58048b968769d1824c07
--! Hash: sha1:556557f51be06d59ca4edece503351dfd6e72556
--! Message: Live updates: each owner is notified of changes to their lists and tasks

-- The migration being written. `npm run db:watch` re-runs this file on every save,
-- so keep it idempotent: drop what it creates, in reverse order, before creating it.
-- `npm run db:commit` turns it into the next file in committed/.

/*
 * Live updates. After every insert, update or delete of a list or a task, the
 * row's owner is told on a channel of their own: `<table>:` followed by the first
 * 48 hex digits (192 bits) of the SHA-256 of their user id. A hash, because a
 * channel name is an identifier of at most 63 bytes while a user id may be 255
 * characters; the server derives the same name from the verified token's `sub`
 * (src/realtime/channels.ts), never from anything a client sends.
 * The payload is only the event and the row's id, e.g.
 * `{"event":"UPDATED","id":"…"}`: whoever listens learns no row data, and the
 * API reads the row again under the subscriber's row-level security.
 * NOTIFY is delivered at commit (nothing for a rolled-back change), and a
 * transaction that changes the same row twice the same way sends one event.
 * Not `security definer`: pg_notify and sha256 need no privilege, so the trigger
 * runs as whoever made the change.
 */
drop trigger if exists _900_notify_change on app_public.tasks;
drop trigger if exists _900_notify_change on app_public.lists;
drop function if exists app_private.tg__notify_change();

create function app_private.tg__notify_change() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  declare
    moved boolean := tg_op = 'UPDATE' and old.user_id is distinct from new.user_id;
  begin
    -- A delete, or the old half of a row moved between users (only the owner can do that).
    if tg_op = 'DELETE' or moved then
      perform pg_notify(
        tg_table_name || ':' || left(encode(sha256(convert_to(old.user_id, 'UTF8')), 'hex'), 48),
        json_build_object('event', 'DELETED', 'id', old.id)::text
      );
    end if;
    if tg_op <> 'DELETE' then
      perform pg_notify(
        tg_table_name || ':' || left(encode(sha256(convert_to(new.user_id, 'UTF8')), 'hex'), 48),
        json_build_object('event', case when tg_op = 'INSERT' or moved then 'CREATED' else 'UPDATED' end, 'id', new.id)::text
      );
    end if;
    return null;
  end;
  $$;
comment on function app_private.tg__notify_change() is E'Tells a row''s owner, on their own NOTIFY channel, that one of their lists or tasks was created, updated or deleted: the event and the id, nothing else.';

create trigger _900_notify_change after insert or update or delete on app_public.lists
  for each row execute function app_private.tg__notify_change();
create trigger _900_notify_change after insert or update or delete on app_public.tasks
  for each row execute function app_private.tg__notify_change();
