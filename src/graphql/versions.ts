/**
 * Optimistic concurrency: `updateTask`, `deleteTask`, `updateList` and `deleteList`
 * take an optional `expectedVersion`. Given, the write happens only if the row is
 * still at that version; otherwise nothing changes and the error is CONFLICT with
 * the row's `currentVersion` (graphql/notFound.ts decides the error).
 *
 * Why this design: the check is part of the write itself — PostGraphile's own
 * `pgUpdateSingle`/`pgDeleteSingle`, identified by `{ id, version }` instead of
 * `{ id }`, i.e. `update … where id = $1 and version = $2`. Under READ COMMITTED a
 * statement that waited for a concurrent writer re-checks its WHERE on the row that
 * writer left (EvalPlanQual), so of two writes expecting the same version exactly one
 * matches; the trigger of migration 000009 moves the version on. No lock is taken in
 * advance and there is no extra round trip on success. Only when nothing matched does
 * a second read, under the caller's row-level security, tell CONFLICT (the row is
 * theirs and visible, at another version) from NOT_FOUND (it is not): for another
 * user's row or a made-up id the answer stays exactly today's.
 *
 * @dataplan/pg fixes a mutation's WHERE when the operation is planned, and grafast
 * has no public way to branch a plan on a variable; `evalIs` (marked internal, used by
 * grafast itself for input defaults) does, by planning "with" and "without
 * expectedVersion" as two cached plans. Should an upgrade drop it, isGiven throws
 * rather than write unchecked, and test/api/versions.test.ts fails. The alternative, a trigger comparing a version handed over in a
 * transaction-local setting, would need per-field settings that PostGraphile's
 * one-statement mutations cannot carry.
 */
import { pgDeleteSingle, pgUpdateSingle, type PgResource } from "postgraphile/@dataplan/pg";
import { inhibitOnNull, lambda, object, trap, TRAP_ERROR, type FieldArgs, type Step } from "postgraphile/grafast";
import { nothingMatched } from "./notFound";

/** Tables whose rows carry a version (migration 000009), by resource name. */
const VERSIONED = new Set(["tasks", "lists"]);

/** A plan-time input step as grafast builds them; `evalIs` adds a constraint so the plan is reused only when it holds. */
interface PlanTimeComparable {
  evalIs(value: unknown): boolean;
}

/** Whether the operation gives a non-null `expectedVersion` — as a literal or a variable. */
function isGiven($value: Step): boolean {
  const evalIs = ($value as Partial<PlanTimeComparable>).evalIs;
  if (typeof evalIs !== "function") {
    // A grafast upgrade that drops evalIs must fail loudly, never run unchecked writes.
    throw new Error(`expectedVersion: cannot tell at plan time whether ${String($value)} is set`);
  }
  const comparable = $value as unknown as PlanTimeComparable;
  return !comparable.evalIs(undefined) && !comparable.evalIs(null);
}

type Mode = "update" | "delete";

function planMutation(resource: PgResource, mode: Mode) {
  return (_$root: Step, args: FieldArgs) => {
    const $id = args.getRaw(["input", "rowId"]);
    const $expected = args.getRaw(["input", "expectedVersion"]);
    const checked = isGiven($expected);
    const spec: Record<string, Step> = checked ? { id: $id, version: $expected } : { id: $id };
    const $result = mode === "update" ? pgUpdateSingle(resource, spec) : pgDeleteSingle(resource, spec);
    args.apply($result);
    if (!checked) return object({ result: $result });
    // Nothing matched: read the row's version as the caller (RLS), only then; visible means CONFLICT.
    const $lookUp = inhibitOnNull(
      lambda([trap($result, TRAP_ERROR), $id], ([outcome, id]) => (nothingMatched(outcome) ? id : null)),
    );
    const $currentVersion = resource.get({ id: $lookUp }).get("version");
    return object({ result: $result, currentVersion: $currentVersion });
  };
}

export const VersionsPlugin: GraphileConfig.Plugin = {
  name: "TasksVersionsPlugin",
  version: "1.0.0",
  // notFound.ts wraps the plans made here.
  before: ["TasksNotFoundPlugin"],
  schema: {
    hooks: {
      GraphQLInputObjectType_fields(fields, build, context) {
        const { isPgUpdateByKeysInputType, isPgDeleteByKeysInputType, pgResource } = context.scope;
        if (!(isPgUpdateByKeysInputType || isPgDeleteByKeysInputType) || !pgResource) return fields;
        if (!VERSIONED.has(pgResource.name)) return fields;
        const noun = pgResource.name === "tasks" ? "task" : "list";
        return build.extend(
          fields,
          {
            expectedVersion: {
              type: build.graphql.GraphQLInt,
              description: `The \`version\` of the ${noun} you read. If given and the ${noun} is no longer at this version, nothing changes and the error is \`CONFLICT\` with the current version in \`extensions.currentVersion\`: read the ${noun} again, then retry or ask the user.`,
            },
          },
          `expectedVersion for ${pgResource.name}`,
        );
      },
      GraphQLObjectType_fields_field(field, _build, context) {
        const { isPgUpdateMutation, isPgDeleteMutation, pgFieldResource } = context.scope;
        if (!(isPgUpdateMutation || isPgDeleteMutation) || !pgFieldResource) return field;
        if (!VERSIONED.has(pgFieldResource.name)) return field;
        return { ...field, plan: planMutation(pgFieldResource, isPgUpdateMutation ? "update" : "delete") as never };
      },
    },
  },
};
