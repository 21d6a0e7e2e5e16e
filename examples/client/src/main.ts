/**
 * The example client: signs in with a token, creates a list and a few tasks, pages
 * through them, completes one, edits another while "another device" edits it too
 * (src/edit.ts: expectedVersion, CONFLICT, read again, retry) and asks for
 * aggregates — each step with a typed document (src/operations.ts) sent by urql.
 *
 *   TOKEN=$(npm run -s token -- alice)
 *   npm run client:example -- --token "$TOKEN" [--url http://127.0.0.1:3000/graphql] [--json] [--persisted]
 *
 * TASKS_API_URL and TASKS_API_TOKEN may stand in for --url and --token. Exit status:
 * 0 when every step worked, 1 when the API refused one (its code is printed), 2 for bad usage.
 */
import { parseArgs } from "node:util";
import { ApiError, makeClient, run } from "./client";
import type { ListStatsQuery, ListTasksQuery, TaskPriority } from "./gql/graphql";
import { editTask } from "./edit";
import { CompleteTask, CreateList, CreateTask, EditTask, ListStats, ListTasks, WhoAmI } from "./operations";
import { makeReporter, type Event } from "./report";

const PAGE_SIZE = 2;

const EXAMPLE_TASKS: Array<{ title: string; priority: TaskPriority; tags: string[]; dueInDays?: number }> = [
  { title: "Buy milk", priority: "LOW", tags: ["errand"] },
  { title: "Write the quarterly report", priority: "HIGH", tags: ["work"], dueInDays: 7 },
  { title: "Call the plumber", priority: "MEDIUM", tags: ["home", "errand"], dueInDays: 1 },
];

type Groups = NonNullable<ListStatsQuery["all"]>["byCompleted"];

/** `[{ keys: ["high"], distinctCount: { rowId: "1" } }]` → `{ high: 1 }`. */
function countsByKey(groups: Groups | undefined): Record<string, number> {
  return Object.fromEntries(
    (groups ?? []).map((group) => [String(group.keys?.[0]), Number(group.distinctCount?.rowId ?? 0)]),
  );
}

async function story(options: { url: string; token: string; persisted: boolean }, report: (event: Event) => void) {
  const client = makeClient(options);

  const { currentUserId } = await run(client, WhoAmI, {});
  // Without a valid token the API answers as an anonymous caller, who may not create anything.
  if (!currentUserId) throw new ApiError("UNAUTHENTICATED", "the API treated this request as anonymous");
  report({ step: "signedIn", userId: currentUserId });

  const name = `Example client ${new Date().toISOString()}`;
  const { createList } = await run(client, CreateList, { name });
  const list = createList?.list;
  if (!list) throw new ApiError("INTERNAL", "createList returned no list");
  report({ step: "createdList", rowId: list.rowId, name: list.name });

  const created = [];
  for (const { dueInDays, ...task } of EXAMPLE_TASKS) {
    const dueAt = dueInDays === undefined ? null : new Date(Date.now() + dueInDays * 86_400_000).toISOString();
    const { createTask } = await run(client, CreateTask, { task: { ...task, dueAt, listId: list.rowId } });
    if (!createTask?.task) throw new ApiError("INTERNAL", "createTask returned no task");
    const { rowId, title, priority, tags } = createTask.task;
    created.push(createTask.task);
    report({ step: "createdTask", rowId, title, priority, tags: tags.filter((tag) => tag !== null) });
  }

  // Cursor pagination: follow endCursor until hasNextPage is false.
  let after: string | null = null;
  for (let page = 1; ; page++) {
    const { tasks }: ListTasksQuery = await run(client, ListTasks, { listId: list.rowId, first: PAGE_SIZE, after });
    if (!tasks) throw new ApiError("INTERNAL", "tasks returned nothing");
    const rowIds = tasks.nodes.flatMap((node) => (node ? [node.rowId] : []));
    report({ step: "listedPage", page, rowIds, totalCount: tasks.totalCount, hasNextPage: tasks.pageInfo.hasNextPage });
    if (!tasks.pageInfo.hasNextPage) break;
    after = tasks.pageInfo.endCursor ?? null;
  }

  const { updateTask } = await run(client, CompleteTask, { rowId: created[0]!.rowId });
  const done = updateTask?.task;
  if (!done?.completedAt) throw new ApiError("INTERNAL", "updateTask returned no completed task");
  report({ step: "completedTask", rowId: done.rowId, title: done.title, completedAt: done.completedAt });

  // Reviewing the report on this device while the phone renames it: the phone's write lands between
  // our read and our write (simulated here), our write gets CONFLICT, and the retry keeps both changes.
  const quarterly = created[1]!;
  let phoneWrote = false;
  const reviewed = await editTask(
    client,
    quarterly.rowId,
    async (task) => {
      if (!phoneWrote) {
        phoneWrote = true;
        const phone = await run(client, EditTask, { rowId: task.rowId, patch: { title: "Write the Q3 report" } });
        report({ step: "otherDeviceEdited", rowId: task.rowId, title: phone.updateTask!.task!.title });
      }
      return { title: `${task.title} (reviewed)`, priority: "URGENT" };
    },
    { onConflict: (conflict) => report({ step: "conflict", ...conflict }) },
  );
  report({
    step: "editedTask",
    rowId: reviewed.task.rowId,
    title: reviewed.task.title,
    version: reviewed.task.version,
    attempts: reviewed.attempts,
  });

  const stats = await run(client, ListStats, { listId: list.rowId });
  report({
    step: "aggregated",
    total: stats.all?.totalCount ?? 0,
    open: stats.open?.totalCount ?? 0,
    byCompleted: countsByKey(stats.all?.byCompleted),
    byPriority: countsByKey(stats.all?.byPriority),
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: process.env.TASKS_API_URL ?? "http://127.0.0.1:3000/graphql" },
      token: { type: "string", default: process.env.TASKS_API_TOKEN },
      json: { type: "boolean", default: false },
      persisted: { type: "boolean", default: false },
    },
  });
  const report = makeReporter(values.json);
  if (!values.token) {
    process.stderr.write("usage: client:example -- --token <JWT> [--url <graphql url>] [--json] [--persisted]\n");
    return 2;
  }
  try {
    await story({ url: values.url, token: values.token, persisted: values.persisted }, report);
    return 0;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    report({ step: "failed", code: error.code, message: error.message });
    return 1;
  }
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(
      `unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
