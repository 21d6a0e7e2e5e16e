--! Previous: sha1:70d2706cdfdee8cd60c8375f58e17ad1793aaad2
--! Hash: sha1:a5ed130aef045fa2a0eb58048b968769d1824c07
--! Message: Readiness asks whether the expected migration is applied

/*
 * Readiness asks "has the migration this build expects been applied?" rather than
 * "is it the newest one?": during a rolling deploy the database runs ahead of the
 * instances still on the previous build, and those must stay ready.
 * Idempotent: drops what it creates first.
 */
drop function if exists app_meta.migration_applied(text);
create function app_meta.migration_applied(expected_hash text) returns boolean
  language sql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
    select exists (select 1 from graphile_migrate.migrations where hash = expected_hash)
  $$;
grant execute on function app_meta.migration_applied(text) to :DATABASE_ANONYMOUS;
comment on function app_meta.migration_applied(text) is E'Whether the migration with this hash has been applied (graphile-migrate), for readiness probes.';

drop function if exists app_meta.latest_migration();
