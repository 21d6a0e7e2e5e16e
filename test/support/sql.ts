import { Client, type QueryResult, type QueryResultRow } from "pg";
import { roleNames } from "../../src/db/roles";
import { connectionString } from "../../scripts/db/urls";
import { testDb } from "./env";

const roles = roleNames();
const OWNER = new URL(testDb.ownerUrl).username;

/** Who a session logs in as. Inside a session, asUser() and the like switch identity as a request does. */
const LOGINS = {
  /** Bypasses RLS: arranges data, proves it exists, and can become any identity. */
  superuser: () => testDb.superuserUrl,
  /** The schema owner, as migrations connect. */
  owner: () => testDb.ownerUrl,
  /** As the API connects: no privileges of its own until it becomes a request role. */
  authenticator: () => testDb.authUrl,
};

export interface SessionOptions {
  /** The login (default: the superuser). */
  as?: keyof typeof LOGINS;
  /** Another database on the test server (a scratch database) instead of the test database. */
  database?: string;
  /**
   * No transaction of the session's own: each statement commits unless the test
   * runs begin … commit itself. For what only happens at commit (NOTIFY), what
   * refuses to run inside a transaction (create/drop database), code that commits
   * its own work, and what the end of a transaction resets.
   */
  autocommit?: boolean;
}

/**
 * One connection, by default inside one transaction that is rolled back at the
 * end, so SQL tests never leave data behind. Identity switches happen inside the
 * transaction with the same statements the API runs (`set local role`,
 * `set_config(…, true)`).
 *
 * In that transaction every statement runs in its own savepoint: a refused
 * statement does not abort the transaction, and the test can go on to check what
 * the database holds. Statements therefore go one at a time, never concurrently.
 */
export class SqlSession {
  private constructor(
    /** The connection itself, for helpers that take a pg client (LISTEN, EXPLAIN, the seeders). */
    readonly client: Client,
    private readonly autocommit: boolean,
  ) {}

  static async open({ as = "superuser", database, autocommit = false }: SessionOptions = {}): Promise<SqlSession> {
    const url = LOGINS[as]();
    const client = new Client({ connectionString: database ? connectionString(url, { database }) : url });
    await client.connect();
    if (!autocommit) await client.query("begin");
    return new SqlSession(client, autocommit);
  }

  /** Rolls back whatever the session did (in autocommit: whatever it left uncommitted) and disconnects. */
  async close(): Promise<void> {
    try {
      if (!this.autocommit) await this.client.query("rollback");
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

  /** Transaction-local, like the API's: in autocommit, call it after `begin`. */
  private async become(role: string, claims: string): Promise<void> {
    await this.client.query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [
      role,
      claims,
    ]);
  }

  async query<R extends QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.run<R>(sql, params)).rows;
  }

  /** The single row of a query that must return exactly one. */
  async one<R extends QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R> {
    const rows = await this.query<R>(sql, params);
    if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}: ${sql}`);
    return rows[0]!;
  }

  /** How many rows a statement affected (for update/delete as some identity). */
  async affected(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.run(sql, params)).rowCount ?? 0;
  }

  /** Runs `fn`, then undoes everything it did (a dropped index, a switched role) by rolling back to a savepoint. */
  async undoAfter<T>(fn: () => Promise<T>): Promise<T> {
    await this.client.query("savepoint undo_after");
    try {
      return await fn();
    } finally {
      await this.client.query("rollback to savepoint undo_after");
      await this.client.query("release savepoint undo_after");
    }
  }

  private run<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    return this.autocommit ? this.client.query<R>(sql, params) : this.inSavepoint<R>(sql, params);
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

/**
 * `beforeEach`/`afterEach` pair that gives each test a fresh session: the way SQL
 * tests reach the database. `shared` opens one session for all the tests of the
 * block instead (`beforeAll`/`afterAll`), for data arranged once.
 */
export function useSqlSession(options: SessionOptions & { shared?: boolean } = {}): () => SqlSession {
  const [before, after] = options.shared ? [beforeAll, afterAll] : [beforeEach, afterEach];
  let session: SqlSession | undefined;
  before(async () => {
    session = await SqlSession.open(options);
  });
  after(async () => {
    await session?.close();
    session = undefined;
  });
  return () => {
    if (!session) throw new Error("no SQL session: call useSqlSession() at the top of a describe block");
    return session;
  };
}

/** A session for the length of `fn`: for a scratch database that a test creates and drops. */
export async function withSqlSession<T>(options: SessionOptions, fn: (db: SqlSession) => Promise<T>): Promise<T> {
  const session = await SqlSession.open(options);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
