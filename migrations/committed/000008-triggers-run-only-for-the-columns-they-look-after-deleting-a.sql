--! Previous: sha1:a29ca695f3b8f00c45d57d8cc365a30bf54a5392
--! Hash: sha1:263951a694270dfac64e5fa75258064de1e7fb46
--! Message: Triggers run only for the columns they look after; deleting a list sends one event, not one per task

/*
 * Deleting a list unlinks its tasks: `on delete set null (list_id)` is one UPDATE
 * of every task in the list, and it used to fire every row trigger on each of
 * them — trimming titles and tags that had not changed, recomputing completed_at,
 * and one NOTIFY per task. At 18k tasks that was over a second and 18k events
 * for each of the owner's live subscriptions.
 *
 * Now each BEFORE trigger names the columns it looks after (`update of …`), so
 * an update that changes none of them skips it; the timestamps trigger still
 * runs on every update, because a task whose list went away has changed and a
 * client syncing by updatedAt must see it.
 *
 * Change notifications are coalesced per list: the unlinking done by a list's
 * deletion (a change caused by another trigger, here the foreign key's action)
 * sends no per-task events. Subscribers get the one listChanged DELETED event
 * and know that the list's tasks are now without a list (docs/subscriptions.md).
 * A change a client makes directly is at trigger depth 0 and notifies as before.
 */
drop trigger if exists _200_normalize on app_public.lists;
create trigger _200_normalize before insert or update of name on app_public.lists
  for each row execute function app_private.tg_lists__normalize();

drop trigger if exists _200_normalize on app_public.tasks;
create trigger _200_normalize before insert or update of title, tags on app_public.tasks
  for each row execute function app_private.tg_tasks__normalize();

drop trigger if exists _300_completed_at on app_public.tasks;
create trigger _300_completed_at before insert or update of completed, completed_at on app_public.tasks
  for each row execute function app_private.tg_tasks__completed_at();

drop trigger if exists _900_notify_change on app_public.tasks;
create trigger _900_notify_change after insert or update or delete on app_public.tasks
  for each row when (pg_trigger_depth() = 0) execute function app_private.tg__notify_change();
