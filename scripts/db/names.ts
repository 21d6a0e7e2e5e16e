/**
 * Names the database tools agree on. The request roles' names live in .gmrc
 * (src/db/roles.ts); these are the ones only set-up, tests and benchmarks use.
 */

/** The owner: runs the migrations and owns every object (migrations/roles.sql creates it from DATABASE_URL). */
export const OWNER_ROLE = "tasks_owner";

/** The development database (the embedded cluster's), and the test clusters'. */
export const DATABASE_NAME = "tasks";

/** graphile-migrate's shadow database for `watch` and `commit`: `<database>_shadow` beside the real one. */
export const SHADOW_SUFFIX = "_shadow";
