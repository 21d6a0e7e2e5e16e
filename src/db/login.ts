/**
 * Who the API logs in as. Row-level security only binds a role it applies to: a
 * superuser, a BYPASSRLS role or the tables' owner would see every user's rows the
 * moment a request forgot to switch role. So the API refuses to start unless its
 * login is the authenticator (.gmrc's :DATABASE_AUTHENTICATOR), holds none of
 * those powers, and can switch to both request roles — the last also turns a
 * later "permission denied to set role" on every request into one clear message.
 * Read from the catalogs by name: the authenticator may not even look into app_public.
 */
import type { Pool } from "pg";
import type { RoleNames } from "./roles";

interface Login {
  login: string;
  superuser: boolean;
  bypassrls: boolean;
  owns_tables: boolean;
  can_switch: boolean;
}

/** Why `variable`'s login is unfit, or undefined when it is the authenticator. */
export async function loginProblem(pool: Pool, roles: RoleNames, variable: string): Promise<string | undefined> {
  const { rows } = await pool.query<Login>(
    `select r.rolname as login, r.rolsuper as superuser, r.rolbypassrls as bypassrls,
            exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                     where n.nspname = 'app_public' and c.relname in ('tasks', 'lists')
                       and pg_has_role(current_user, c.relowner, 'USAGE')) as owns_tables,
            coalesce((select bool_and(pg_has_role(current_user, t.oid, 'MEMBER'))
                        from pg_roles t where t.rolname in ($1, $2)
                      having count(*) = 2), false) as can_switch
       from pg_roles r where r.rolname = current_user`,
    [roles.user, roles.anonymous],
  );
  const login = rows[0]!;
  const instead = `log in as ${roles.authenticator} instead (docs/dba.md, "Roles")`;
  const as = `${variable} logs in as "${login.login}"`;
  if (login.superuser) return `${as}, a superuser, which row-level security does not bind; ${instead}`;
  if (login.bypassrls) return `${as}, which has BYPASSRLS; ${instead}`;
  if (login.owns_tables) return `${as}, which owns the tables (or inherits their owner); ${instead}`;
  if (login.login !== roles.authenticator) return `${as}, not the authenticator; ${instead}`;
  if (!login.can_switch) {
    return `${as}, which cannot switch to ${roles.user} and ${roles.anonymous}; run the migrations' role set-up (npm run db:setup, or migrations/roles.sql on a managed server)`;
  }
  return undefined;
}
