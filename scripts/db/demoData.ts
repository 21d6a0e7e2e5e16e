/**
 * Demo data for development (`npm run db:seed`): a few users with lists and tasks
 * of every kind the UI shows — priorities, tags, overdue, due today and this week,
 * undated, completed.
 *
 * Written the way the API writes: over the authenticator's connection, one
 * transaction per user with `role` and `request.jwt.claims` set locally, so
 * row-level security, column grants and triggers all apply. The request role may
 * not choose ids (no insert grant on `id`), so rows are found again by their
 * natural key (a list by name, a task by title) and each run only inserts what is
 * missing and restores what differs: a second run changes nothing, and the rows
 * keep their ids and timestamps.
 *
 * Every demo task carries the tag `demo`, and only tasks with it are ever restored: a task
 * a user made with the same title (the README signs in as alice too) is never changed.
 * The names avoid the README's and docs' examples (test/db/seed.test.ts checks).
 */
import type { ClientBase } from "pg";

type Priority = "none" | "low" | "medium" | "high" | "urgent";

interface DemoTask {
  title: string;
  description?: string;
  /** Name of one of the same user's demo lists. */
  list?: string;
  priority: Priority;
  tags: string[];
  /** Due `days` after the seed day's midnight (UTC), at `hour`; negative days are overdue. */
  due?: { days: number; hour: number };
  completed?: boolean;
}

export interface DemoUser {
  sub: string;
  lists: string[];
  tasks: DemoTask[];
}

export const DEMO_USERS: readonly DemoUser[] = [
  {
    sub: "alice",
    lists: ["Pantry", "Work"],
    tasks: [
      {
        title: "Pick up bread and eggs",
        list: "Pantry",
        priority: "high",
        tags: ["errand"],
        due: { days: 0, hour: 18 },
      },
      { title: "Buy coffee beans", list: "Pantry", priority: "low", tags: ["errand"], completed: true },
      {
        title: "Send the quarterly report",
        description: "Numbers from finance, charts from the dashboard.",
        list: "Work",
        priority: "urgent",
        tags: ["work", "reports"],
        due: { days: -2, hour: 17 },
      },
      {
        title: "Review Bob's pull request",
        list: "Work",
        priority: "medium",
        tags: ["work", "code"],
        due: { days: 3, hour: 12 },
      },
      { title: "Plan the team offsite", list: "Work", priority: "low", tags: ["work"], due: { days: 30, hour: 9 } },
      { title: "Call the dentist", priority: "medium", tags: ["health", "phone"], due: { days: -1, hour: 10 } },
    ],
  },
  {
    sub: "bob",
    lists: ["Home", "Side project"],
    tasks: [
      { title: "Fix the leaking tap", list: "Home", priority: "high", tags: ["diy"], due: { days: 1, hour: 9 } },
      {
        title: "Pay the electricity bill",
        list: "Home",
        priority: "urgent",
        tags: ["bills"],
        due: { days: -3, hour: 12 },
      },
      { title: "Repot the fern", list: "Home", priority: "none", tags: [], completed: true },
      {
        title: "Write the README",
        description: "Installation, a first example, and the configuration table.",
        list: "Side project",
        priority: "medium",
        tags: ["writing", "code"],
        due: { days: 5, hour: 20 },
      },
      {
        title: "Release version 1.0",
        list: "Side project",
        priority: "high",
        tags: ["code"],
        due: { days: 14, hour: 12 },
      },
    ],
  },
  {
    sub: "carol",
    lists: ["Reading"],
    tasks: [
      {
        title: "Finish 'The Left Hand of Darkness'",
        list: "Reading",
        priority: "low",
        tags: ["books"],
        due: { days: 6, hour: 21 },
      },
      {
        title: "Return library books",
        list: "Reading",
        priority: "high",
        tags: ["books", "errand"],
        due: { days: -5, hour: 16 },
      },
      { title: "Book train tickets", priority: "medium", tags: ["travel"], due: { days: 2, hour: 8 }, completed: true },
      { title: "Learn a new recipe", priority: "none", tags: [] },
    ],
  },
];

export interface SeedOptions {
  /** The request role a user with a valid token gets (`tasks_user`). */
  userRole: string;
  /** Due dates are relative to this day's midnight, UTC (default: today). */
  today?: Date;
}

export interface SeedSummary {
  inserted: number;
  updated: number;
  unchanged: number;
}

const DAY_MS = 86_400_000;

/** Marks the rows the seed owns; a task without it is the user's own and left alone. */
export const DEMO_TAG = "demo";

function midnightUtc(date: Date): number {
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
}

/** Seeds every demo user, each in a transaction of its own as that user. */
export async function seedDemoData(client: ClientBase, options: SeedOptions): Promise<SeedSummary> {
  const summary: SeedSummary = { inserted: 0, updated: 0, unchanged: 0 };
  const today = midnightUtc(options.today ?? new Date());
  for (const user of DEMO_USERS) {
    await client.query("begin");
    try {
      await client.query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [
        options.userRole,
        JSON.stringify({ sub: user.sub }),
      ]);
      await seedUser(client, user, today, summary);
      await client.query("commit");
    } catch (error) {
      await client.query("rollback");
      throw error;
    }
  }
  return summary;
}

type Outcome = keyof SeedSummary;

async function seedUser(client: ClientBase, user: DemoUser, today: number, summary: SeedSummary): Promise<void> {
  const listIds = new Map<string, string>();
  for (const name of user.lists) {
    const found = await client.query<{ id: string }>(
      "select id from app_public.lists where name = $1 order by created_at, id limit 1",
      [name],
    );
    if (found.rows[0]) {
      listIds.set(name, found.rows[0].id);
      summary.unchanged += 1;
    } else {
      const created = await client.query<{ id: string }>(
        "insert into app_public.lists (name) values ($1) returning id",
        [name],
      );
      listIds.set(name, created.rows[0]!.id);
      summary.inserted += 1;
    }
  }
  for (const task of user.tasks) {
    const listId = task.list === undefined ? null : listIds.get(task.list);
    if (listId === undefined) throw new Error(`demo task "${task.title}" names an unknown list "${task.list}"`);
    const dueAt = task.due ? new Date(today + task.due.days * DAY_MS + task.due.hour * 3_600_000) : null;
    const values = [
      task.title,
      task.description ?? null,
      listId,
      task.priority,
      dueAt,
      [...task.tags, DEMO_TAG],
      task.completed ?? false,
    ];
    summary[await upsertTask(client, values)] += 1;
  }
}

/** The demo values of a task after its title ($1), in upsertTask's parameter order. */
const TASK_COLUMNS = "description, list_id, priority, due_at, tags, completed";
const TASK_VALUES =
  "$2::text, $3::uuid, $4::app_public.task_priority, $5::timestamptz, $6::app_public.tag[], $7::boolean";

/**
 * Inserts the task, or restores an existing demo task (tagged `demo`) of that title to the demo values.
 * The update runs only when something differs, so the triggers leave updated_at
 * (and completed_at) alone on a second run.
 */
async function upsertTask(client: ClientBase, values: unknown[]): Promise<Outcome> {
  const existing = await client.query<{ id: string; differs: boolean }>(
    `select id, (${TASK_COLUMNS}) is distinct from (${TASK_VALUES}) as differs
     from app_public.tasks where title = $1 and $8::text = any(tags::text[]) order by created_at, id limit 1`,
    [...values, DEMO_TAG],
  );
  const row = existing.rows[0];
  if (!row) {
    await client.query(`insert into app_public.tasks (title, ${TASK_COLUMNS}) values ($1, ${TASK_VALUES})`, values);
    return "inserted";
  }
  if (!row.differs) return "unchanged";
  await client.query(`update app_public.tasks set (${TASK_COLUMNS}) = (${TASK_VALUES}) where id = $8 and title = $1`, [
    ...values,
    row.id,
  ]);
  return "updated";
}
