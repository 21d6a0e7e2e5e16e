/*
 * Cluster-level roles for the Tasks API. Superuser (or CREATEROLE) only; idempotent:
 * run it again at any time and it restates exactly the attributes below.
 *
 *   npx graphile-migrate run --rootDatabase migrations/roles.sql
 *
 * (`npm run db:setup` runs it, then sets the login passwords from DATABASE_URL and
 * AUTH_DATABASE_URL — passwords never live in a file.) Placeholders come from .gmrc:
 *
 *   :DATABASE_OWNER          owns every object; migrations run as it; never the API.
 *   :DATABASE_AUTHENTICATOR  the API's login; NOINHERIT, so it holds no privilege
 *                            (but reading revocation cut-offs, migration 000011)
 *                            until a request does `set local role` to one of:
 *   :DATABASE_USER           a request with a valid token;
 *   :DATABASE_ANONYMOUS      a request with no token.
 *
 * None of them is superuser, creates roles or databases, replicates, or bypasses
 * row-level security. The owner is subject to the tables' forced RLS too.
 */

do $$
begin
  if not exists (select from pg_roles where rolname = ':DATABASE_OWNER') then
    create role :DATABASE_OWNER;
  end if;
  if not exists (select from pg_roles where rolname = ':DATABASE_AUTHENTICATOR') then
    create role :DATABASE_AUTHENTICATOR;
  end if;
  if not exists (select from pg_roles where rolname = ':DATABASE_USER') then
    create role :DATABASE_USER;
  end if;
  if not exists (select from pg_roles where rolname = ':DATABASE_ANONYMOUS') then
    create role :DATABASE_ANONYMOUS;
  end if;
end
$$;

-- Restated every run, so a role created by hand converges on these attributes.
alter role :DATABASE_OWNER login inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
alter role :DATABASE_AUTHENTICATOR login noinherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
alter role :DATABASE_USER nologin noinherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
alter role :DATABASE_ANONYMOUS nologin noinherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls;

-- The authenticator may become either request role, and nothing else.
grant :DATABASE_USER to :DATABASE_AUTHENTICATOR;
grant :DATABASE_ANONYMOUS to :DATABASE_AUTHENTICATOR;
