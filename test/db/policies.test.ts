/*
 * Row-level security, table by table and command by command, for the three kinds
 * of caller: the row's owner (alice), another user (bob) and an anonymous request.
 * Every "cannot" is paired with a look as the superuser proving the row is there.
 */
import { seedAliceAndBob, type UserRows } from "../support/fixtures";
import { useSqlSession } from "../support/sql";

const PERMISSION_DENIED = "42501";

interface TableCase {
  table: string;
  rowId: (rows: UserRows) => string;
  insert: string;
  update: string;
  column: string;
}

const tables: TableCase[] = [
  {
    table: "app_public.lists",
    rowId: (rows) => rows.listId,
    insert: "insert into app_public.lists (name) values ('Groceries') returning user_id",
    update: "update app_public.lists set name = 'Renamed' where id = $1",
    column: "name",
  },
  {
    table: "app_public.tasks",
    rowId: (rows) => rows.taskId,
    insert: "insert into app_public.tasks (title) values ('Buy milk') returning user_id",
    update: "update app_public.tasks set title = 'Renamed' where id = $1",
    column: "title",
  },
];

describe.each(tables)("$table", ({ table, rowId, insert, update, column }) => {
  const db = useSqlSession();
  let alice: UserRows;
  let bob: UserRows;

  beforeEach(async () => {
    ({ alice, bob } = await seedAliceAndBob(db()));
  });

  async function valueAsSuperuser(id: string): Promise<string | undefined> {
    await db().asSuperuser();
    const rows = await db().query<{ value: string }>(`select ${column} as value from ${table} where id = $1`, [id]);
    return rows[0]?.value;
  }

  describe("select", () => {
    // Other suites run alongside and commit rows of their own users; alice and bob exist only here.
    it("lets a user see their own rows and only those", async () => {
      await db().asUser("alice");
      const rows = await db().query<{ id: string; user_id: string }>(`select id, user_id from ${table}`);
      expect(rows).toEqual([{ id: rowId(alice), user_id: "alice" }]);
    });

    it("hides another user's row, which exists", async () => {
      await db().asUser("bob");
      expect(await db().query(`select * from ${table} where id = $1`, [rowId(alice)])).toEqual([]);
      expect(await valueAsSuperuser(rowId(alice))).toBeDefined();
    });

    it("refuses anonymous requests outright, although rows exist", async () => {
      await db().asAnonymous();
      await expect(db().query(`select * from ${table}`)).rejects.toMatchObject({ code: PERMISSION_DENIED });
      await db().asSuperuser();
      expect(await db().query(`select id from ${table} where user_id in ('alice', 'bob')`)).toHaveLength(2);
    });
  });

  describe("insert", () => {
    it("lets a user insert a row, which belongs to them", async () => {
      await db().asUser("alice");
      expect(await db().one(insert)).toEqual({ user_id: "alice" });
    });

    it("does not let a user insert a row for another user", async () => {
      await db().asUser("bob");
      await expect(
        db().query(`insert into ${table} (user_id, ${column}) values ('alice', 'forged')`),
      ).rejects.toMatchObject({ code: PERMISSION_DENIED });
      await db().asSuperuser();
      expect(await db().query(`select id from ${table} where user_id = 'alice'`)).toHaveLength(1);
    });

    it("refuses anonymous inserts", async () => {
      await db().asAnonymous();
      await expect(db().query(insert)).rejects.toMatchObject({ code: PERMISSION_DENIED });
    });
  });

  describe("update", () => {
    it("lets a user update their own row", async () => {
      await db().asUser("alice");
      expect(await db().affected(update, [rowId(alice)])).toBe(1);
      expect(await valueAsSuperuser(rowId(alice))).toBe("Renamed");
    });

    it("changes nothing when a user updates another user's row", async () => {
      await db().asUser("bob");
      expect(await db().affected(update, [rowId(alice)])).toBe(0);
      expect(await valueAsSuperuser(rowId(alice))).toMatch(/^alice's/);
    });

    it("refuses anonymous updates", async () => {
      await db().asAnonymous();
      await expect(db().affected(update, [rowId(alice)])).rejects.toMatchObject({ code: PERMISSION_DENIED });
      expect(await valueAsSuperuser(rowId(alice))).toMatch(/^alice's/);
    });
  });

  describe("delete", () => {
    it("lets a user delete their own row", async () => {
      await db().asUser("alice");
      expect(await db().affected(`delete from ${table} where id = $1`, [rowId(alice)])).toBe(1);
      expect(await valueAsSuperuser(rowId(alice))).toBeUndefined();
    });

    it("deletes nothing when a user deletes another user's row", async () => {
      await db().asUser("bob");
      expect(await db().affected(`delete from ${table} where id = $1`, [rowId(alice)])).toBe(0);
      expect(await db().affected(`delete from ${table}`)).toBe(1); // bob's own row only
      expect(await valueAsSuperuser(rowId(alice))).toBeDefined();
      expect(await valueAsSuperuser(rowId(bob))).toBeUndefined();
    });

    it("refuses anonymous deletes", async () => {
      await db().asAnonymous();
      await expect(db().affected(`delete from ${table}`)).rejects.toMatchObject({ code: PERMISSION_DENIED });
      await db().asSuperuser();
      expect(await db().query(`select id from ${table} where user_id in ('alice', 'bob')`)).toHaveLength(2);
    });
  });

  describe("the schema owner", () => {
    it("is subject to the forced policies and sees no rows, although they exist", async () => {
      await db().asOwner();
      expect(await db().query(`select id from ${table}`)).toEqual([]);
      await db().asSuperuser();
      expect(await db().query(`select id from ${table} where user_id in ('alice', 'bob')`)).toHaveLength(2);
    });
  });

  describe("a token without a sub", () => {
    it("sees nothing", async () => {
      await db().asUser("");
      expect(await db().query(`select id from ${table}`)).toEqual([]);
    });
  });
});
