--! Previous: sha1:462449064d1473d635ca2ca644796eb49d0f32ff
--! Hash: sha1:067ff51bace8427f91bd5c800ec0e8cd707c2408
--! Message: Idempotency keys: app_hidden.idempotency_keys under forced RLS, purged after 24 hours

/*
 * Idempotent mutations (issue 14): the `Idempotency-Key` a client sends with a
 * mutation is stored with the response it got, in the same transaction as the
 * mutation's writes (src/db/requestTransactions.ts), so a retry is answered from
 * here instead of writing twice. Idempotent: drops what it creates, in reverse order.
 */
drop function if exists app_hidden.purge_idempotency_keys();
drop table if exists app_hidden.idempotency_keys;
drop function if exists app_hidden.idempotency_retention();
drop schema if exists app_hidden;

/*
 * app_hidden: tables request roles read and write but GraphQL does not expose
 * (PostGraphile introspects app_public only). app_private stays closed to them.
 */
create schema app_hidden;
grant usage on schema app_hidden to :DATABASE_USER;
comment on schema app_hidden is E'Internals of the Tasks API that request roles use under RLS; never exposed through GraphQL.';

/*
 * How long a key is remembered: at least the 24 hours the API promises. One
 * definition, read by the purge policy below and by the API's look-up.
 */
create function app_hidden.idempotency_retention() returns interval
  language sql immutable parallel safe
  as $$ select interval '24 hours' $$;
grant execute on function app_hidden.idempotency_retention() to :DATABASE_USER;
comment on function app_hidden.idempotency_retention() is E'How long an idempotency key and its response are kept.';

/*
 * ---------------------------------------------------------------------------
 * idempotency_keys: one row per (user, key) — the fingerprint of the operation
 * and variables first sent with the key, and the response (status, exact body)
 * that request got. Written only in the transaction of the mutation it answers.
 * ---------------------------------------------------------------------------
 */
create table app_hidden.idempotency_keys (
  user_id text not null default app_public.current_user_id(),
  key text not null,
  fingerprint text not null,
  status smallint not null,
  body text not null,
  created_at timestamptz not null default now(),
  constraint idempotency_keys_pkey primary key (user_id, key),
  constraint idempotency_keys_user_id_length check (char_length(user_id) between 1 and 255),
  constraint idempotency_keys_key_length check (char_length(key) between 1 and 255),
  constraint idempotency_keys_fingerprint_sha256 check (fingerprint ~ '^[0-9a-f]{64}$'),
  constraint idempotency_keys_status_http check (status between 100 and 599)
);
alter table app_hidden.idempotency_keys enable row level security;
alter table app_hidden.idempotency_keys force row level security;

-- The primary key serves the policies and the look-up; this one the purge of expired keys.
create index idempotency_keys_created_at_idx on app_hidden.idempotency_keys (created_at);

/*
 * A user reads, records and (once expired) replaces only their own keys. The
 * owner — only through purge_idempotency_keys() below — sees and deletes only
 * expired rows of anyone: forced RLS holds for it too.
 */
create policy select_own on app_hidden.idempotency_keys for select to :DATABASE_USER
  using (user_id = (select app_public.current_user_id()));
create policy insert_own on app_hidden.idempotency_keys for insert to :DATABASE_USER
  with check (user_id = (select app_public.current_user_id()));
create policy delete_own on app_hidden.idempotency_keys for delete to :DATABASE_USER
  using (user_id = (select app_public.current_user_id()));
create policy select_expired on app_hidden.idempotency_keys for select to :DATABASE_OWNER
  using (created_at < now() - app_hidden.idempotency_retention());
create policy delete_expired on app_hidden.idempotency_keys for delete to :DATABASE_OWNER
  using (created_at < now() - app_hidden.idempotency_retention());

grant select, delete on app_hidden.idempotency_keys to :DATABASE_USER;
grant insert (key, fingerprint, status, body) on app_hidden.idempotency_keys to :DATABASE_USER;

comment on table app_hidden.idempotency_keys is E'Idempotency keys of mutations and the responses they got, kept for idempotency_retention().';
comment on column app_hidden.idempotency_keys.user_id is E'Whose key: the `sub` of the token that sent it. Set by the server.';
comment on column app_hidden.idempotency_keys.key is E'The `Idempotency-Key` header as sent: 1 to 255 printable ASCII characters.';
comment on column app_hidden.idempotency_keys.fingerprint is E'sha256 (hex) of the operation and its variables (canonical JSON): a retry must match it.';
comment on column app_hidden.idempotency_keys.status is E'The HTTP status of the first response.';
comment on column app_hidden.idempotency_keys.body is E'The first response body, byte for byte as it was sent.';
comment on column app_hidden.idempotency_keys.created_at is E'When the key was recorded; it expires idempotency_retention() later.';

/*
 * Expired keys of every user, deleted without a manual step: the API calls this
 * on a timer (src/db/idempotency.ts). `security definer` so the owner's
 * `*_expired` policies apply — a caller can delete nothing that has not expired.
 */
create function app_hidden.purge_idempotency_keys() returns integer
  language sql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
    with purged as (
      delete from app_hidden.idempotency_keys
      where created_at < now() - app_hidden.idempotency_retention()
      returning 1
    )
    select count(*)::integer from purged
  $$;
grant execute on function app_hidden.purge_idempotency_keys() to :DATABASE_USER;
comment on function app_hidden.purge_idempotency_keys() is E'Deletes every expired idempotency key; returns how many.';
