/*
 * Superuser-only setup, run by `graphile-migrate reset` on the freshly created
 * database (as ROOT_DATABASE_URL's role). On a server where the DBA creates the
 * database by hand, run these statements once after `migrations/roles.sql`.
 *
 * `reset` has already revoked every database privilege from PUBLIC; the
 * authenticator gets back only the right to connect. The request roles need no
 * database privilege: they are reached through `set local role`.
 */
begin;
grant connect on database :DATABASE_NAME to :DATABASE_AUTHENTICATOR;
grant connect, create, temporary on database :DATABASE_NAME to :DATABASE_OWNER;
commit;
