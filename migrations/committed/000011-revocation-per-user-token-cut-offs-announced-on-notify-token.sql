--! Previous: sha1:067ff51bace8427f91bd5c800ec0e8cd707c2408
--! Hash: sha1:95b885e97a9a5c3f1a68c04ebe1bf166bac38c63
--! Message: Revocation: per-user token cut-offs, announced on NOTIFY token_cutoffs

/*
 * Revocation: "sign out everywhere". Per user, a cut-off: tokens issued before it
 * (their `iat`) are void. The API keeps every cut-off in memory, loaded at start-up
 * and kept current by NOTIFY (src/auth/revocation.ts); this table is the truth,
 * shared by every instance and kept across restarts. docs/dba.md says how an
 * operator uses it. Idempotent: drops what it creates first, in reverse order.
 */
drop function if exists app_public.revoke_my_tokens();
drop function if exists app_private.token_cutoff(text);
drop function if exists app_private.token_cutoffs_by_key();
drop function if exists app_private.revoke_tokens(text);
drop table if exists app_private.token_cutoffs;
drop function if exists app_private.tg_token_cutoffs__notify();
drop function if exists app_private.user_key(text);

/*
 * The key a user is known by outside the database: the first 48 hex digits
 * (192 bits) of the SHA-256 of their id, as the live-updates channels use. The
 * NOTIFY payload and the API's map carry this, never the id itself: any session
 * may LISTEN on any channel, and a hash tells a listener nothing it did not know.
 */
create function app_private.user_key(user_id text) returns text
  language sql immutable strict parallel safe
  set search_path = pg_catalog, pg_temp
  as $$
    select left(encode(sha256(convert_to(user_id, 'UTF8')), 'hex'), 48)
  $$;
comment on function app_private.user_key(text) is E'A user''s key outside the database: the first 48 hex digits of the SHA-256 of their id (src/realtime/channels.ts computes the same).';

/*
 * ---------------------------------------------------------------------------
 * token_cutoffs: one row per user who has revoked their tokens (or had them
 * revoked). Whole seconds, because a token's `iat` is whole seconds: a token
 * with iat < not_before is void; one issued in the same second as the
 * revocation, or later, is not (docs/operations.md: one-second granularity).
 * No request role reads or writes it: the user goes through
 * app_public.revoke_my_tokens() (security definer), the operator through
 * app_private.revoke_tokens(), the API's login through the two readers below.
 * ---------------------------------------------------------------------------
 */
create table app_private.token_cutoffs (
  user_id text primary key,
  not_before timestamptz not null,
  constraint token_cutoffs_user_id_length check (char_length(user_id) between 1 and 255),
  constraint token_cutoffs_whole_seconds check (not_before = date_trunc('second', not_before))
);
alter table app_private.token_cutoffs enable row level security;
alter table app_private.token_cutoffs force row level security;

-- The primary key serves the per-user lookup; the full load reads every row anyway.

/*
 * Only the owner, through the functions below, ever touches the rows; the owner is
 * subject to forced RLS like everyone, so it is given exactly that.
 */
create policy select_all on app_private.token_cutoffs for select to :DATABASE_OWNER
  using (true);
create policy insert_all on app_private.token_cutoffs for insert to :DATABASE_OWNER
  with check (true);
create policy update_all on app_private.token_cutoffs for update to :DATABASE_OWNER
  using (true)
  with check (true);
create policy delete_all on app_private.token_cutoffs for delete to :DATABASE_OWNER
  using (true);

comment on table app_private.token_cutoffs is E'Per user, the instant before which their tokens are void ("sign out everywhere").';
comment on column app_private.token_cutoffs.user_id is E'The user (the tokens'' `sub`).';
comment on column app_private.token_cutoffs.not_before is E'Tokens whose `iat` is before this (whole seconds) are refused; it only moves forward.';

/*
 * Every change is announced on the channel `token_cutoffs`, with the payload
 * `<user key>:<cut-off in epoch seconds>`: every API process LISTENs there and
 * closes the user's sessions within a second. A trigger, so a cut-off written
 * by hand by a DBA is announced too. NOTIFY is delivered at commit, so a
 * rolled-back revocation announces nothing.
 */
create function app_private.tg_token_cutoffs__notify() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    perform pg_notify(
      'token_cutoffs',
      app_private.user_key(new.user_id) || ':' || extract(epoch from new.not_before)::bigint
    );
    return null;
  end;
  $$;
comment on function app_private.tg_token_cutoffs__notify() is E'Announces a user''s new cut-off to every API process (channel token_cutoffs): their key and the cut-off, nothing else.';

create trigger _900_notify_cutoff after insert or update on app_private.token_cutoffs
  for each row execute function app_private.tg_token_cutoffs__notify();

/*
 * The one write path: sets the user's cut-off to now (whole seconds), never
 * moving it back, so calling it twice is harmless. Returns the cut-off.
 * Owner only (no grant): "this account was compromised" is an operator's call,
 * `select app_private.revoke_tokens('<user id>');` as the owner.
 */
create function app_private.revoke_tokens(user_id text) returns timestamptz
  language sql volatile strict
  set search_path = pg_catalog, pg_temp
  as $$
    insert into app_private.token_cutoffs as c (user_id, not_before)
      values (revoke_tokens.user_id, date_trunc('second', now()))
      on conflict (user_id) do update set not_before = greatest(c.not_before, excluded.not_before)
      returning not_before
  $$;
comment on function app_private.revoke_tokens(text) is E'Operator: voids every token of this user issued before now (whole seconds); open sessions end within a second. Idempotent.';

/*
 * What the API's own login (the authenticator, which holds no other privilege)
 * may read, and nothing else in this schema: every cut-off by user key for the
 * start-up load, and one user's cut-off for the per-request fallback while its
 * LISTEN connection is down. Request roles cannot call either: the
 * authenticator is NOINHERIT and its grants do not pass to the roles it becomes.
 */
create function app_private.token_cutoffs_by_key() returns table (user_key text, not_before bigint)
  language sql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
    select app_private.user_key(c.user_id), extract(epoch from c.not_before)::bigint
    from app_private.token_cutoffs c
  $$;
comment on function app_private.token_cutoffs_by_key() is E'Every cut-off, by user key, in epoch seconds: the API loads them at start-up and after its LISTEN connection was lost.';

create function app_private.token_cutoff(user_id text) returns bigint
  language sql stable security definer strict
  set search_path = pg_catalog, pg_temp
  as $$
    select extract(epoch from c.not_before)::bigint
    from app_private.token_cutoffs c
    where c.user_id = token_cutoff.user_id
  $$;
comment on function app_private.token_cutoff(text) is E'One user''s cut-off in epoch seconds, or null: the API asks per request only while it cannot trust its in-memory copy.';

grant usage on schema app_private to :DATABASE_AUTHENTICATOR;
grant execute on function app_private.token_cutoffs_by_key() to :DATABASE_AUTHENTICATOR;
grant execute on function app_private.token_cutoff(text) to :DATABASE_AUTHENTICATOR;

/*
 * The user's own "sign out everywhere", exposed as the mutation revokeMyTokens.
 * It takes no argument: the user is the caller (the verified token's `sub`), so
 * there is nothing to point at someone else. security definer, because the
 * user role has no access to the table; it only ever writes the caller's row.
 */
create function app_public.revoke_my_tokens() returns void
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
  declare
    me text := app_public.current_user_id();
  begin
    if me is null then
      raise exception 'sign in to revoke your tokens' using errcode = '42501';
    end if;
    perform app_private.revoke_tokens(me);
  end;
  $$;
grant execute on function app_public.revoke_my_tokens() to :DATABASE_USER;
comment on function app_public.revoke_my_tokens() is E'Signs you out everywhere: every token of yours issued before now stops working within a second, on HTTP and on open subscriptions. Tokens issued after the call keep working (tokens carry whole seconds: one issued in the same second also does). Calling it again is harmless.';
