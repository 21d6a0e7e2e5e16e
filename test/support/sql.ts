import { Client, type QueryResult, type QueryResultRow } from "pg";
import { roleNames } from "../../src/db/roles";
import { testDb } from "./env";

const roles = roleNames();
const OWNER = new URL(testDb.ownerUrl).username;

/**
 * One connection inside one transaction that is rolled back at the end, so SQL
 * tests never leave data behind. Identity switches happen inside the transaction
 * with the same statements the API runs (`set local role`, `set_config(…, true)`).
 *
 * Every statement runs in its own savepoint: a refused statement does not abort
 * the transaction, and the test can go on to check what the database holds.
 */
export class SqlSession {
  /** The connection itself, for helpers that take a pg client (e.g. the policy linter). */
  private constructor(readonly client: Client) {}

  static async begin(url = testDb.superuserUrl): Promise<SqlSession> {
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query("begin");
    return new SqlSession(client);
  }

  async rollback(): Promise<void> {
    try {
      await this.client.query("rollback");
    } finally {
      await this.client.end();
    }
  }

  /** A request with a valid token for `sub`: the user role and its claims. */
  async asUser(sub: string, extraClaims: Record<string, unknown> = {}): Promise<void> {
    await this.become(roles.user, JSON.stringify({ sub, role: "authenticated", ...extraClaims }));
  }

  /** A request without a token. */
  async asAnonymous(): Promise<void> {
    await this.become(roles.anonymous, "");
  }

  /** The schema owner, as migrations run: still subject to the forced policies. */
  async asOwner(): Promise<void> {
    await this.become(OWNER, "");
  }

  /** The superuser that set up the test: bypasses RLS, so it sees every row. */
  async asSuperuser(): Promise<void> {
    await this.client.query("set local role none");
    await this.client.query("select set_config('request.jwt.claims', '', true)");
  }

  private async become(role: string, claims: string): Promise<void> {
    await this.client.query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [
      role,
      claims,
    ]);
  }

  async query<R extends QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.inSavepoint<R>(sql, params)).rows;
  }

  /** The single row of a query that must return exactly one. */
  async one<R extends QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R> {
    const rows = await this.query<R>(sql, params);
    if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}: ${sql}`);
    return rows[0]!;
  }

  /** How many rows a statement affected (for update/delete as some identity). */
  async affected(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.inSavepoint(sql, params)).rowCount ?? 0;
  }

  private async inSavepoint<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    await this.client.query("savepoint statement");
    try {
      const result = await this.client.query<R>(sql, params);
      await this.client.query("release savepoint statement");
      return result;
    } catch (error) {
      await this.client.query("rollback to savepoint statement");
      throw error;
    }
  }
}

/** `beforeEach`/`afterEach` pair that gives each test a fresh rolled-back session. */
export function useSqlSession(): () => SqlSession {
  let session: SqlSession | undefined;
  beforeEach(async () => {
    session = await SqlSession.begin();
  });
  afterEach(async () => {
    await session?.rollback();
    session = undefined;
  });
  return () => {
    if (!session) throw new Error("no SQL session: call useSqlSession() at the top of a describe block");
    return session;
  };
}
