--! Previous: sha1:712aedc8fc53929d08fba409d4f56f2caf15f4b0
--! Hash: sha1:d53f9075a0336a6e0dbd9e8161b43b4dae85b3b4
--! Message: app_meta.latest_migration for readiness probes

/*
 * app_meta: the little an operational probe may ask the database, without
 * reading any application data. Not exposed through GraphQL (only app_public is).
 * Idempotent: `npm run db:watch` runs this file on every save.
 */
drop function if exists app_meta.latest_migration();
drop schema if exists app_meta;

create schema app_meta;
grant usage on schema app_meta to :DATABASE_ANONYMOUS;
comment on schema app_meta is E'Operational probes (readiness); no application data.';

/*
 * The hash of the newest applied migration, so /health/ready can tell whether the
 * database is at the level the running code expects. `security definer` because
 * only the owner may read graphile-migrate's bookkeeping; the pinned search_path
 * keeps it from resolving anything a caller could plant.
 */
create function app_meta.latest_migration() returns text
  language sql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
    select hash from graphile_migrate.migrations order by filename desc limit 1
  $$;
grant execute on function app_meta.latest_migration() to :DATABASE_ANONYMOUS;
comment on function app_meta.latest_migration() is E'Hash of the newest applied migration (graphile-migrate), for readiness probes.';
