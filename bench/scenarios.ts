/**
 * The scenarios: each is a GraphQL operation for the API and the SQL PostGraphile
 * sends for it, which the hand-written floor and pgbench run in the same kind of
 * transaction. The SQL was read from Postgres's log (`npm run bench -- --only sql`
 * prints it again, and every run checks it still matches: see capture.ts).
 */
import { BENCH_PREFIX, taskIdSql } from "./seed";
import type { BenchUser } from "./users";

export type Kind = "read" | "write" | "invalid";

/** Values fixed for a whole run, so every system answers the same question. */
export interface RunClock {
  now: string;
  weekEnd: string;
}

export interface Statement {
  text: string;
  /** Values of $1, $2 … from the operation's variables, as the API binds them. */
  params(variables: Record<string, any>): unknown[];
  /** The same parameters as pgbench expressions (`:sub`, `:now` …; see pgbench.ts). */
  pgbench: string[];
}

export interface Scenario {
  name: string;
  kind: Kind;
  query: string;
  variables(user: BenchUser, clock: RunClock): Record<string, unknown>;
  /** Empty for the invalid-token scenario: it must never reach the database. */
  sql: Statement[];
  /**
   * Statements the API sends that nothing in the answer needs, which a hand-written
   * endpoint would not send: the floor and pgbench skip them; the SQL check expects them.
   */
  wasted?: string[];
  /** Inserts tasks titled CREATED_TITLE, which the runner removes after each measurement. */
  createsRows?: boolean;
}

export const runClock = (at = new Date()): RunClock => ({
  now: at.toISOString(),
  weekEnd: new Date(at.getTime() + 7 * 86_400_000).toISOString(),
});

/** The title the create scenario uses, so a run can remove what it created. */
export const CREATED_TITLE = "bench create";
export const UPDATED_TITLE = "bench update";
/** The user's oldest task, derived as seed.ts derives ids (pgbench has no per-client value to bind). */
const TASK_ID = taskIdSql(`'${BENCH_PREFIX}'`, ":user", "'1'");

export const NEWEST_QUERY = `query Newest { tasks(first: 20, orderBy: CREATED_AT_DESC) { nodes { rowId title completed priority dueAt } } }`;

export const SCENARIOS: Scenario[] = [
  {
    name: "newest 20 tasks",
    kind: "read",
    query: NEWEST_QUERY,
    variables: () => ({}),
    sql: [
      {
        text: `select __tasks__."id" as "0", __tasks__."title" as "1", __tasks__."completed"::text as "2", __tasks__."priority"::text as "3", to_char(__tasks__."due_at", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text) as "4" from "app_public"."tasks" as __tasks__ order by __tasks__."created_at" desc, __tasks__."id" desc limit 20`,
        params: () => [],
        pgbench: [],
      },
    ],
  },
  {
    name: "open tasks due this week",
    kind: "read",
    query: `query DueThisWeek($from: Datetime!, $to: Datetime!) {
  tasks(first: 50, orderBy: DUE_AT_ASC, filter: { completed: { equalTo: false }, dueAt: { greaterThanOrEqualTo: $from, lessThan: $to } }) {
    nodes { rowId title priority dueAt }
  }
}`,
    variables: (_user, clock) => ({ from: clock.now, to: clock.weekEnd }),
    sql: [
      {
        text: `select __tasks__."id" as "0", __tasks__."title" as "1", __tasks__."priority"::text as "2", to_char(__tasks__."due_at", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text) as "3" from "app_public"."tasks" as __tasks__ where (__tasks__."due_at" < $1::"timestamptz") and (__tasks__."due_at" >= $2::"timestamptz") and (__tasks__."completed" = $3::"bool") order by __tasks__."due_at" asc, __tasks__."id" asc limit 50`,
        params: (v) => [v.to, v.from, false],
        pgbench: [":week_end", ":now", ":no"],
      },
    ],
  },
  {
    name: "one task by id",
    kind: "read",
    query: `query TaskById($rowId: UUID!) { task(rowId: $rowId) { rowId title description completed priority dueAt tags } }`,
    variables: (user) => ({ rowId: user.taskId }),
    sql: [
      {
        text: `select __tasks__."id" as "0", __tasks__."title" as "1", __tasks__."description" as "2", __tasks__."completed"::text as "3", __tasks__."priority"::text as "4", to_char(__tasks__."due_at", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text) as "5", __tasks__."tags"::text as "6" from "app_public"."tasks" as __tasks__ where (__tasks__."id" = $1::"uuid")`,
        params: (v) => [v.rowId],
        pgbench: [TASK_ID],
      },
    ],
  },
  {
    name: "dashboard",
    kind: "read",
    query: `query Dashboard($now: Datetime!) {
  all: tasks { groupedAggregates(groupBy: [PRIORITY, COMPLETED]) { keys count { rowId } } }
  overdue: tasks(filter: { completed: { equalTo: false }, dueAt: { lessThan: $now } }) { totalCount }
}`,
    variables: (_user, clock) => ({ now: clock.now }),
    sql: [
      {
        text: `select (count(__tasks__."id"))::text as "0", __tasks__."priority"::text as "1", __tasks__."completed"::text as "2" from "app_public"."tasks" as __tasks__ group by __tasks__."priority", __tasks__."completed"`,
        params: () => [],
        pgbench: [],
      },
      {
        text: `select (count(*))::text as "0" from "app_public"."tasks" as __tasks__ where (__tasks__."due_at" < $1::"timestamptz") and (__tasks__."completed" = $2::"bool")`,
        params: (v) => [v.now, false],
        pgbench: [":now", ":no"],
      },
    ],
    // Since the default page (graphql/defaultPage.ts), a connection read only for totalCount or
    // aggregates still runs its items query, of no columns: one wasted round trip per root field.
    wasted: [
      `select /* NOTHING?! */ from "app_public"."tasks" as __tasks__ order by __tasks__."id" asc limit 100`,
      `select /* NOTHING?! */ from "app_public"."tasks" as __tasks__ where (__tasks__."due_at" < $1::"timestamptz") and (__tasks__."completed" = $2::"bool") order by __tasks__."id" asc limit 100`,
    ],
  },
  {
    name: "create a task",
    kind: "write",
    createsRows: true,
    query: `mutation CreateTask($task: TaskInput!) { createTask(input: { task: $task }) { task { rowId createdAt } } }`,
    variables: (_user, clock) => ({ task: { title: CREATED_TITLE, priority: "MEDIUM", dueAt: clock.weekEnd } }),
    sql: [
      {
        text: `insert into "app_public"."tasks" as __tasks__ ("title", "priority", "due_at") values ($1::"text", $2::"app_public"."task_priority", $3::"timestamptz") returning __tasks__."id" as "0", to_char(__tasks__."created_at", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text) as "1"`,
        params: (v) => {
          const task = v.task as { title: string; priority: string; dueAt: string };
          return [task.title, task.priority.toLowerCase(), task.dueAt];
        },
        pgbench: [":created_title", ":medium", ":week_end"],
      },
    ],
  },
  {
    name: "update a task",
    kind: "write",
    query: `mutation UpdateTask($rowId: UUID!) { updateTask(input: { rowId: $rowId, patch: { title: "${UPDATED_TITLE}" } }) { task { rowId updatedAt } } }`,
    variables: (user) => ({ rowId: user.taskId }),
    sql: [
      {
        text: `update "app_public"."tasks" as __tasks__ set "title" = $1::"text" where (__tasks__."id" = $2::"uuid") returning __tasks__."id" as "0", to_char(__tasks__."updated_at", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text) as "1"`,
        // The title is a literal in the GraphQL document; PostGraphile still binds it.
        params: (v) => [UPDATED_TITLE, v.rowId],
        pgbench: [":updated_title", TASK_ID],
      },
    ],
  },
  {
    name: "invalid token",
    kind: "invalid",
    query: NEWEST_QUERY,
    variables: () => ({}),
    sql: [],
  },
];
