/*
 * Property-based isolation fuzzing: four users with real HS256 tokens drive random
 * interleavings of every mutation and read the API has — creating, updating and
 * deleting their own rows, other users' rows, deleted rows and random ids, filing
 * tasks into their own, foreign and missing lists, reading, filtering and
 * aggregating — while an in-memory model says what each user should have.
 *
 * Checked all along:
 *  1. every read shows the user exactly the model's rows (a snapshot compares all
 *     tasks and lists, field by field, in order), and every mutation payload is the
 *     row the model predicts;
 *  2. after every mutation the database itself, read as the superuser, equals the
 *     model for all users: an operation by one user never changes another's rows;
 *  3. totals, filters and grouped aggregates equal what the model computes from
 *     that user's rows only;
 *  4. every error is the one the model expects (NOT_FOUND for a row that is not
 *     yours — with or without expectedVersion, even the row's real one —, CONFLICT
 *     with the row's currentVersion for an outdated version of your own row,
 *     VALIDATION_FAILED with its field, BAD_USER_INPUT for a NUL character):
 *     anything else — INTERNAL, FORBIDDEN, a success that should have failed —
 *     fails the run, and fast-check shrinks it to a short sequence of operations;
 *  5. a third of the mutations carry an Idempotency-Key and are sent again with it: the
 *     retry must be the first response, marked as a replay, and the database check
 *     after it proves it wrote nothing.
 *
 * Some users act alone, some at once (a Burst: one request each, concurrently, through
 * the API's shared connection pool). Each run starts from four fresh users
 * (uniqueSub), so runs are independent and replayable, and rows of other suites
 * never interfere.
 *
 * An operation is a mutation or a read (one root field: `tasks`, `lists`, `task`,
 * `node`, an aggregate connection …); read requests batch several reads. The test
 * prints how many ran, in how many HTTP requests, and fails below the target.
 *
 * FUZZ_OPERATIONS=100000 runs more operations (default 10,000). FUZZ_SEED and
 * FUZZ_PATH replay a reported failure; FUZZ_SHRINK_SECONDS (default 60) bounds the
 * shrinking.
 *
 * The parts, in test/security/fuzz/: model.ts (what each user should have and see),
 * arbitraries.ts (the operations fast-check generates) and checks.ts (each
 * operation's request and its invariants); this file wires them into the property.
 */
import fc from "fast-check";
import { Client } from "pg";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { actionArb, weighted } from "./fuzz/arbitraries";
import { Burst, checkDatabase, checkSnapshot, prepare, send, stats, Step, type Real } from "./fuzz/checks";
import { freshModel, USERS, type Model } from "./fuzz/model";

const TARGET_OPERATIONS = Number(process.env.FUZZ_OPERATIONS || 10_000);
const MAX_COMMANDS = 200;
jest.setTimeout(Math.max(300_000, TARGET_OPERATIONS * 30));

const commandsArb = fc.commands(
  [
    weighted<fc.AsyncCommand<Model, Real>>(
      [3, actionArb.map((action) => new Step(action))],
      [
        2,
        fc
          .uniqueArray(actionArb, { minLength: 2, maxLength: USERS, selector: (a) => a.actor })
          .map((actions) => new Burst(actions)),
      ],
    ),
  ],
  { maxCommands: MAX_COMMANDS, size: "max" },
);

let api: TestApi;
let db: Client;

beforeAll(async () => {
  api = await startApi({ poolSize: USERS });
  db = new Client({ connectionString: testDb.superuserUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await api?.close();
});

it(`keeps every user's rows to themselves through ${TARGET_OPERATIONS} random operations`, async () => {
  const started = performance.now();
  const budgetMs = Math.max(300_000, TARGET_OPERATIONS * 30) - 30_000;
  const shrinkMs = Number(process.env.FUZZ_SHRINK_SECONDS || 60) * 1000;
  let failedAt: number | undefined;
  const property = fc.asyncProperty(commandsArb, async (commands) => {
    // Each shrink replays a whole run against the API: after the budget, skip the rest and report the smallest so far.
    fc.pre(failedAt === undefined || performance.now() - failedAt < shrinkMs);
    try {
      let model: Model | undefined;
      await fc.asyncModelRun(async () => {
        model = await freshModel();
        return { model, real: { api, db } };
      }, commands);
      // The end of the run: every user's whole view through the API, and the database.
      for (const [i, user] of model!.users.entries()) {
        const prepared = prepare(model!, {
          actor: i,
          kind: "snapshot",
          task: { who: "foreign", n: i, uuid: "00000000-0000-4000-8000-000000000000" },
          list: { who: "foreign", n: i, uuid: "00000000-0000-4000-8000-000000000000" },
        });
        checkSnapshot(user, await send(api, model!, prepared), prepared.variables as { task: string; list: string });
      }
      await checkDatabase(model!, db);
      stats.runs++;
    } catch (error) {
      failedAt ??= performance.now();
      throw error;
    }
  });

  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  const path = process.env.FUZZ_PATH;
  // fc.commands makes runs of varying length: keep running until the target is reached.
  const opsPerRun = () => (stats.runs > 0 ? stats.operations / stats.runs : 2 * MAX_COMMANDS);
  for (let round = 0; stats.operations < TARGET_OPERATIONS; round++) {
    const timeLeft = budgetMs - (performance.now() - started);
    if (timeLeft <= 0) break;
    await fc.assert(property, {
      numRuns: path ? 1 : Math.ceil((TARGET_OPERATIONS - stats.operations) / opsPerRun()),
      ...(round === 0 && seed !== undefined ? { seed, ...(path ? { path } : {}) } : {}),
      interruptAfterTimeLimit: timeLeft,
    });
    if (path) break;
  }
  const seconds = (performance.now() - started) / 1000;

  const outcomes = Object.entries(stats.outcomes)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, n]) => `    ${key}: ${n}`)
    .join("\n");
  process.stdout.write(
    `isolation fuzz: ${stats.operations} operations (${stats.mutations} mutations, ${stats.reads} reads) ` +
      `in ${stats.requests} HTTP requests, ${stats.runs} runs of ${USERS} users, ${seconds.toFixed(1)} s\n${outcomes}\n`,
  );

  if (!path) expect(stats.operations).toBeGreaterThanOrEqual(TARGET_OPERATIONS);
  // The fuzz really went through the doors it is meant to try (a default-sized run always does).
  const tried = [
    "createTask/list:own: ok",
    "createTask/list:foreign: VALIDATION_FAILED(listId)",
    "createTask/list:deleted: VALIDATION_FAILED(listId)",
    "createTask/list:random: VALIDATION_FAILED(listId)",
    "createTask/list:none: VALIDATION_FAILED(title)",
    "createTask/list:none: VALIDATION_FAILED(tags)",
    "updateTask/own: ok",
    "updateTask/own: VALIDATION_FAILED(listId)",
    "updateTask/foreign: NOT_FOUND",
    "updateTask/deleted: NOT_FOUND",
    "updateTask/random: NOT_FOUND",
    "deleteTask/own: ok",
    "deleteTask/foreign: NOT_FOUND",
    "updateList/own: ok",
    "updateList/foreign: NOT_FOUND",
    "deleteList/own: ok",
    "deleteList/foreign: NOT_FOUND",
    // Versions: the current one writes, another one is CONFLICT — only ever for the actor's own row.
    "updateTask/own@current: ok",
    "updateTask/own@stale: CONFLICT",
    "updateTask/foreign@current: NOT_FOUND",
    "updateTask/random@stale: NOT_FOUND",
    "deleteTask/own@current: ok",
    "deleteTask/own@stale: CONFLICT",
    "deleteTask/foreign@current: NOT_FOUND",
    "updateList/own@stale: CONFLICT",
    "updateList/foreign@current: NOT_FOUND",
    "deleteList/own@stale: CONFLICT",
    "readTask/own",
    "readTask/foreign",
    "snapshot/task:foreign",
    "idempotent retry: replayed",
  ];
  if (!path && TARGET_OPERATIONS >= 10_000) expect(tried.filter((key) => !stats.outcomes[key])).toEqual([]);
});
