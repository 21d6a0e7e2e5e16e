import type { SqlSession } from "./sql";

export interface UserRows {
  listId: string;
  taskId: string;
}

/**
 * Arranges, as the superuser, one list and one task (in that list) for each of
 * alice and bob. Tests then act as one of them and look for the other's rows.
 */
export async function seedAliceAndBob(db: SqlSession): Promise<{ alice: UserRows; bob: UserRows }> {
  await db.asSuperuser();
  const seed = async (user: string): Promise<UserRows> => {
    const list = await db.one<{ id: string }>(
      "insert into app_public.lists (user_id, name) values ($1, $1 || '''s list') returning id",
      [user],
    );
    const task = await db.one<{ id: string }>(
      "insert into app_public.tasks (user_id, list_id, title) values ($1, $2, $1 || '''s task') returning id",
      [user, list.id],
    );
    return { listId: list.id, taskId: task.id };
  };
  return { alice: await seed("alice"), bob: await seed("bob") };
}
