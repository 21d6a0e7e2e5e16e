/*
 * The db:* commands (scripts/db/cli.ts) as an operator meets them: a mistake in a connection
 * string, a non-UTF8 database, a reset while the API is connected and a reset in production
 * each end in one line that says what to do, never a stack; and nothing is dropped unasked.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { Client } from "pg";
import { migrateDatabase } from "../../scripts/db/migrations";
import { OWNER_ROLE } from "../../scripts/db/names";
import { connectionString } from "../../scripts/db/urls";
import { ROOT_DIR } from "../../src/paths";
import { testDb } from "../support/env";
import { hasStack, runScript } from "../support/scripts";

const CLI = "scripts/db/cli.ts";
const scratch: string[] = [];

/** A database of this test's own on the test cluster, made by the superuser. */
async function scratchDatabase(encoding = "UTF8"): Promise<string> {
  const name = `cli_${encoding.toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const root = new Client({ connectionString: testDb.rootUrl });
  await root.connect();
  try {
    await root.query(`create database ${name} encoding '${encoding}' template template0`);
  } finally {
    await root.end();
  }
  scratch.push(name);
  return connectionString(testDb.rootUrl, { database: name });
}

afterAll(async () => {
  const root = new Client({ connectionString: testDb.rootUrl });
  await root.connect();
  for (const name of scratch) await root.query(`drop database if exists ${name} with (force)`);
  await root.end();
});

describe("connection strings", () => {
  it("names DATABASE_URL when it is not a connection string", async () => {
    const result = await runScript(CLI, ["migrate"], { DATABASE_URL: "base" });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/^DATABASE_URL is not a connection string/);
    expect(hasStack(result.output)).toBe(false);
  });

  it("names DATABASE_URL when its host does not resolve", async () => {
    const result = await runScript(CLI, ["migrate"], { DATABASE_URL: "postgres://owner:pw@base.invalid/tasks" });
    expect(result.code).toBe(1);
    expect(result.output).toContain("cannot find the host of DATABASE_URL (base.invalid)");
    expect(hasStack(result.output)).toBe(false);
  });

  it("names DATABASE_URL when its password is wrong", async () => {
    const wrong = connectionString(testDb.ownerUrl, { password: "not-the-password" });
    const result = await runScript(CLI, ["status"], { DATABASE_URL: wrong });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/^DATABASE_URL cannot log in: password authentication failed/);
    expect(hasStack(result.output)).toBe(false);
  });
});

it("db:seed names AUTH_DATABASE_URL when its password is wrong", async () => {
  const wrong = connectionString(testDb.authUrl, { password: "not-the-password" });
  const result = await runScript("scripts/db/seed.ts", [], { AUTH_DATABASE_URL: wrong });
  expect(result.code).toBe(1);
  expect(result.output).toMatch(/^AUTH_DATABASE_URL cannot log in: password authentication failed/);
  expect(hasStack(result.output)).toBe(false);
});

describe("encoding", () => {
  it("migrate refuses a SQL_ASCII database and says UTF8 is needed", async () => {
    const url = await scratchDatabase("SQL_ASCII");
    const result = await runScript(CLI, ["migrate"], { DATABASE_URL: url });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      /database "cli_sql_ascii_\w+" \(DATABASE_URL\) uses the SQL_ASCII encoding; the Tasks API needs UTF8/,
    );
    expect(hasStack(result.output)).toBe(false);
  });

  it("the set-up path (db:setup, npm start) refuses it too, before migrating anything", async () => {
    const url = await scratchDatabase("SQL_ASCII");
    await expect(migrateDatabase({ rootUrl: testDb.rootUrl, ownerUrl: url, authUrl: url })).rejects.toThrow(
      /uses the SQL_ASCII encoding; the Tasks API needs UTF8: create the database with `createdb -E UTF8 -T template0/,
    );
    const client = new Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query(
      "select count(*)::int as n from pg_tables where schemaname = 'graphile_migrate'",
    );
    await client.end();
    expect(rows[0].n).toBe(0);
  });
});

describe("db:reset", () => {
  /** A scratch database holding one row, to prove a refused reset dropped nothing. */
  async function withRow(): Promise<string> {
    const url = await scratchDatabase();
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query("create table precious (note text); insert into precious values ('keep me')");
    await client.end();
    return url;
  }
  async function stillThere(url: string): Promise<string[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ note: string }>("select note from precious");
      return rows.map((row) => row.note);
    } finally {
      await client.end();
    }
  }

  it("is refused with NODE_ENV=production without --force, and drops nothing", async () => {
    const url = await withRow();
    const result = await runScript(CLI, ["reset", "--erase"], {
      NODE_ENV: "production",
      DATABASE_URL: url,
      ROOT_DATABASE_URL: testDb.rootUrl,
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/^db:reset refused: it would drop database "cli_utf8_\w+" .* NODE_ENV=production/);
    expect(result.output).toContain("npm run db:reset -- --force");
    expect(hasStack(result.output)).toBe(false);
    expect(await stillThere(url)).toEqual(["keep me"]);
  });

  it("with --force (the confirmation where no terminal can ask) it does reset", async () => {
    const url = await withRow();
    const result = await runScript(CLI, ["reset", "--erase", "--force"], {
      NODE_ENV: "production",
      DATABASE_URL: url,
      ROOT_DATABASE_URL: testDb.rootUrl,
    });
    expect(result.output).toMatch(/recreated from the committed migrations/);
    expect(result.code).toBe(0);
    await expect(stillThere(url)).rejects.toThrow(/relation "precious" does not exist/);
  });

  it("is refused against another machine without --force, before connecting", async () => {
    const result = await runScript(CLI, ["reset", "--erase"], {
      DATABASE_URL: "postgres://owner:pw@db.example.invalid/tasks",
      ROOT_DATABASE_URL: "postgres://root:pw@db.example.invalid/postgres",
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain("DATABASE_URL is on db.example.invalid, not this machine");
  });

  it("says to stop the API first while a session uses the database, and drops nothing", async () => {
    const url = await withRow();
    const api = new Client({ connectionString: url });
    await api.connect();
    try {
      const result = await runScript(CLI, ["reset", "--erase"], {
        DATABASE_URL: url,
        ROOT_DATABASE_URL: testDb.rootUrl,
      });
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/while other sessions use it: stop the API first/);
      expect(hasStack(result.output)).toBe(false);
    } finally {
      await api.end();
    }
    expect(await stillThere(url)).toEqual(["keep me"]);
  });
});

describe("db:psql", () => {
  it("opens psql with DATABASE_URL and passes psql's own arguments on", async () => {
    const result = await runScript("scripts/db/psql.ts", ["-X", "-A", "-t", "-c", "select current_user"], {
      DATABASE_URL: testDb.ownerUrl,
    });
    expect(result).toEqual({ code: 0, output: `${OWNER_ROLE}\n` });
  });

  it("prints the connection string when psql is not installed", async () => {
    const result = await runScript("scripts/db/psql.ts", [], {
      DATABASE_URL: testDb.ownerUrl,
      PATH: path.join(ROOT_DIR, "node_modules", ".bin"), // node, but no psql
    });
    expect(result.code).toBe(0);
    expect(result.output).toContain("psql is not installed");
    expect(result.output).toContain(testDb.ownerUrl);
  });
});
