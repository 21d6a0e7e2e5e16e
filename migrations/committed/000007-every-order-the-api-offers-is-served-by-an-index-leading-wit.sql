--! Previous: sha1:07f25b4617cfca6392c097cbed4f5449d8266bde
--! Hash: sha1:a29ca695f3b8f00c45d57d8cc365a30bf54a5392
--! Message: Every order the API offers is served by an index leading with user_id

/*
 * Every order the API offers is served by an index that leads with user_id.
 *
 * The policies compare user_id with a value the planner cannot see (it comes
 * from the request's settings through an InitPlan), so it guesses how many rows
 * the caller owns. When it guesses "many" and the query asks for the first few
 * rows in an order that only a whole-table index provides — the primary key, for
 * the default order — it walks that index and filters out everyone else's rows:
 * seconds at a million tasks, for a user who owns none. With an index on
 * (user_id, <order column>, id) for each order, the walk starts and stops inside
 * the caller's own rows whatever the guess; `id` last matches the tie-breaker
 * PostGraphile appends to every order, and one index serves both directions.
 *
 * NATURAL (no order at all) is no longer offered (src/graphql/orders.ts); every
 * other order has its index here or in 000001 (created_at).
 *
 * On a large live table, create these first by hand with CREATE INDEX
 * CONCURRENTLY (same names); `if not exists` then makes this migration cheap.
 * The two replaced indexes are prefixes of their successors.
 */
create index if not exists tasks_user_id_id_idx on app_public.tasks (user_id, id);
create index if not exists tasks_user_id_title_id_idx on app_public.tasks (user_id, title, id);
create index if not exists tasks_user_id_due_at_id_idx on app_public.tasks (user_id, due_at, id);
create index if not exists tasks_user_id_completed_id_idx on app_public.tasks (user_id, completed, id);
create index if not exists tasks_user_id_completed_at_id_idx on app_public.tasks (user_id, completed_at, id);
create index if not exists tasks_user_id_updated_at_id_idx on app_public.tasks (user_id, updated_at, id);
create index if not exists tasks_user_id_priority_id_idx on app_public.tasks (user_id, priority, id);
drop index if exists app_public.tasks_user_id_priority_idx;
-- Also what the foreign key to lists needs, and `list.tasks` in its default order.
create index if not exists tasks_user_id_list_id_id_idx on app_public.tasks (user_id, list_id, id);
drop index if exists app_public.tasks_user_id_list_id_idx;

create index if not exists lists_user_id_name_id_idx on app_public.lists (user_id, name, id);
create index if not exists lists_user_id_updated_at_id_idx on app_public.lists (user_id, updated_at, id);
