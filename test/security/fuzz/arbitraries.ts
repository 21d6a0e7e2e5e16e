/**
 * The fast-check generators of the isolation fuzz: operations by each user on
 * their own rows, other users' rows, deleted rows and random ids, with inputs
 * that are mostly ordinary and sometimes blank, too long, NUL-bearing or null.
 * The weights decide how often each door is tried; runs replay from a seed.
 */
import fc from "fast-check";
import {
  ORDERS,
  PRIORITIES,
  READ_TASKS,
  USERS,
  type Action,
  type Filter,
  type ListChoice,
  type Priority,
  type Target,
  type VersionChoice,
  type Who,
} from "./model";

export const weighted = <T>(...pairs: Array<[number, fc.Arbitrary<T>]>) =>
  fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

const targetArb = (own: number, foreign: number, deleted: number, random: number): fc.Arbitrary<Target> =>
  fc.record({
    who: weighted<Who>(
      [own, fc.constant("own")],
      [foreign, fc.constant("foreign")],
      [deleted, fc.constant("deleted")],
      [random, fc.constant("random")],
    ),
    n: fc.nat(),
    uuid: fc.uuid(),
  });
const listChoiceArb: fc.Arbitrary<ListChoice> = weighted<ListChoice>(
  [5, fc.constant({ who: "none" as const })],
  [12, targetArb(8, 2, 1, 1)],
);

/** Surrounding whitespace the database trims. */
const padArb = weighted(
  [3, fc.constant("")],
  [
    2,
    fc
      .array(fc.constantFrom(" ", "\t", "\n", "\r", "  ", "\r\n"), { minLength: 1, maxLength: 3 })
      .map((a) => a.join("")),
  ],
);
const padded = (core: fc.Arbitrary<string>) =>
  fc.tuple(padArb, core, padArb).map(([before, text, after]) => before + text + after);
/** Text for a field of at most `max` characters: mostly short, sometimes blank, at the limit or NUL-bearing. */
const textArb = (max: number) =>
  weighted(
    [60, padded(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 24 }))],
    [20, padded(fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }))],
    [5, padArb], // blank: nothing left after trimming
    [5, padded(fc.integer({ min: max - 1, max: max + 1 }).map((n) => "x".repeat(n)))],
    [1, fc.constant("a\u0000b")],
  );

const TAG_WORDS = ["home", "work", "errand", "Home", "a", "b", "x y", "t1", "t2"];
const rawTagArb: fc.Arbitrary<string | null> = weighted<string | null>(
  [100, padded(fc.constantFrom(...TAG_WORDS))],
  [30, padded(fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }))],
  [2, padArb], // blank once trimmed
  [1, fc.constant("t".repeat(51))],
  [1, fc.constant(null)],
  [10, fc.constant(` ${"w".repeat(50)} `)], // 52 characters, 50 once trimmed: valid
  [3, fc.constant("\u00a0\u3000")], // blank by Unicode's measure
);
const tagArb = rawTagArb;
const tagsArb = weighted<Array<string | null> | null>(
  [24, fc.array(tagArb, { maxLength: 6 })],
  [
    2,
    fc.array(
      fc.integer({ min: 0, max: 25 }).map((i) => ` t${i}`),
      { minLength: 15, maxLength: 30 },
    ),
  ],
  [1, fc.constant(null)],
);
const dueArb = fc
  .date({ min: new Date("1900-01-01T00:00:00Z"), max: new Date("2200-01-01T00:00:00Z"), noInvalidDate: true })
  .map((d) => d.toISOString());
const priorityArb = fc.constantFrom(...PRIORITIES);

const taskFieldsArb = {
  description: weighted<string | null>(
    [60, fc.string({ maxLength: 30 })],
    [20, fc.constant(null)],
    [1, fc.constant("d".repeat(10_001))],
  ),
  priority: weighted<Priority | null>([40, priorityArb], [1, fc.constant(null)]),
  completed: weighted<boolean | null>([40, fc.boolean()], [1, fc.constant(null)]),
  dueAt: fc.option(dueArb, { nil: null, freq: 4 }),
  tags: tagsArb,
  list: listChoiceArb,
};

const actorArb = fc.nat({ max: USERS - 1 });
/** Most writes send no version (as every client did before); the others the current one or another. */
const versionArb: fc.Arbitrary<VersionChoice> = weighted<VersionChoice>(
  [3, fc.constant({ send: "none" as const })],
  [2, fc.constant({ send: "current" as const })],
  [2, fc.record({ send: fc.constant("stale" as const), n: fc.nat() })],
);
const taskTargetArb = targetArb(8, 3, 1, 1);
const listTargetArb = targetArb(6, 3, 1, 1);

const filterLeafArb: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({ completed: fc.boolean(), negate: fc.boolean() }),
  fc.record({
    priority: priorityArb,
    op: fc.constantFrom("equalTo", "notEqualTo", "lessThan", "greaterThanOrEqualTo"),
  }),
  fc.record({ priorityIn: fc.uniqueArray(priorityArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({
    tags: fc.uniqueArray(fc.constantFrom(...TAG_WORDS), { maxLength: 2 }),
    op: fc.constantFrom("contains", "overlaps"),
  }),
  fc.record({ listIsNull: fc.boolean() }),
  fc.record({ listEquals: listTargetArb }),
  fc.record({ dueIsNull: fc.boolean() }),
  fc.record({ due: dueArb, op: fc.constantFrom("lessThan", "greaterThanOrEqualTo") }),
  fc.record({ rowIdIn: fc.array(taskTargetArb, { minLength: 1, maxLength: 4 }) }),
);
const filterArb: fc.Arbitrary<Filter> = weighted<Filter>(
  [5, filterLeafArb],
  [1, fc.record({ and: fc.array(filterLeafArb, { minLength: 1, maxLength: 3 }) })],
  [1, fc.record({ or: fc.array(filterLeafArb, { minLength: 1, maxLength: 3 }) })],
  [
    1,
    fc.record({
      not: fc.oneof(filterLeafArb, fc.record({ or: fc.array(filterLeafArb, { minLength: 1, maxLength: 2 }) })),
    }),
  ],
);

export const actionArb: fc.Arbitrary<Action> = weighted<Action>(
  [
    16,
    fc.record({
      actor: actorArb,
      kind: fc.constant("createTask" as const),
      input: fc.record({ title: textArb(500), ...taskFieldsArb }, { requiredKeys: ["title", "list"] }),
    }),
  ],
  [
    18,
    fc.record({
      actor: actorArb,
      kind: fc.constant("updateTask" as const),
      target: taskTargetArb,
      patch: fc.record(
        { title: weighted<string | null>([30, textArb(500)], [1, fc.constant(null)]), ...taskFieldsArb },
        { requiredKeys: [] },
      ),
      // An empty patch is a client mistake (BAD_USER_INPUT), whoever's row it names.
      version: versionArb,
    }),
  ],
  [
    5,
    fc.record({
      actor: actorArb,
      kind: fc.constant("deleteTask" as const),
      target: taskTargetArb,
      version: versionArb,
    }),
  ],
  [6, fc.record({ actor: actorArb, kind: fc.constant("createList" as const), name: textArb(200) })],
  [
    3,
    fc.record({
      actor: actorArb,
      kind: fc.constant("updateList" as const),
      target: listTargetArb,
      name: textArb(200),
      version: versionArb,
    }),
  ],
  [
    3,
    fc.record({
      actor: actorArb,
      kind: fc.constant("deleteList" as const),
      target: listTargetArb,
      version: versionArb,
    }),
  ],
  [
    10,
    fc.record({ actor: actorArb, kind: fc.constant("snapshot" as const), task: taskTargetArb, list: listTargetArb }),
  ],
  [
    6,
    fc.record({
      actor: actorArb,
      kind: fc.constant("readTask" as const),
      targets: fc.array(taskTargetArb, { minLength: READ_TASKS, maxLength: READ_TASKS }),
    }),
  ],
  [
    8,
    fc.record({
      actor: actorArb,
      kind: fc.constant("filter" as const),
      filter: filterArb,
      order: fc.nat({ max: ORDERS.length - 1 }),
    }),
  ],
  [6, fc.record({ actor: actorArb, kind: fc.constant("aggregates" as const), filter: filterArb })],
);
