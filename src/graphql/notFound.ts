/**
 * NOT_FOUND for `updateTask`/`updateList`/`deleteTask`/`deleteList` on a row the
 * caller cannot see, the same whether it never existed or is someone else's —
 * RLS makes the two indistinguishable and so do we. PostGraphile V5 says it in two
 * ways (an update returns `{ task: null }`, a delete fails with its own message);
 * each mutation's plan turns both into one error.
 *
 * With `expectedVersion` (graphql/versions.ts) "nothing matched" may also mean the
 * row is the caller's but at another version: the plan then carries the version a
 * second read found under RLS, and the error is CONFLICT with it. That read finds
 * nothing for a row the caller cannot see, so such a row still gets NOT_FOUND.
 */
import {
  object,
  sideEffect,
  trap,
  TRAP_ERROR,
  TRAP_INHIBITED,
  constant,
  type ObjectStep,
  type Step,
} from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";
import { ApiError } from "../errors";
import { UPSTREAM } from "../errors/upstream";

/** An update's null row, or a delete's "no values were deleted". */
export const nothingMatched = (outcome: unknown) =>
  outcome == null || (outcome instanceof Error && UPSTREAM.nothingDeleted.pattern.test(outcome.message));

function requireRow(entity: string) {
  return (plan: () => ObjectStep<{ result: Step; currentVersion: Step }>) => {
    const $plan = plan();
    const $result = $plan.getStepForKey("result");
    // Present only when the operation sends expectedVersion; read only when nothing matched.
    const $looked = $plan.getStepForKey("currentVersion", true);
    const $currentVersion: Step = $looked
      ? trap($looked, TRAP_INHIBITED, { valueForInhibited: "NULL" })
      : constant(null);
    // trap: a failed mutation reaches the check as a value; any other failure keeps its own error.
    const $found = sideEffect([trap($result, TRAP_ERROR), $currentVersion], ([outcome, currentVersion]) => {
      if (!nothingMatched(outcome)) return true;
      if (typeof currentVersion === "number") {
        throw new ApiError(
          "CONFLICT",
          `this ${entity} was changed since you read it (it is now at version ${currentVersion}); read it again, then retry or ask the user`,
          undefined,
          { currentVersion },
        );
      }
      throw new ApiError("NOT_FOUND", `no ${entity} with this id was found`);
    });
    // `found` first: of two failed dependencies, the first one's error is the field's.
    return object({ found: $found, result: $result });
  };
}

export const NotFoundPlugin = wrapPlans(
  {
    Mutation: {
      updateTask: requireRow("task"),
      updateList: requireRow("list"),
      deleteTask: requireRow("task"),
      deleteList: requireRow("list"),
    },
  },
  { name: "TasksNotFoundPlugin" },
);
