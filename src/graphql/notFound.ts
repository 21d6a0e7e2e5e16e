/**
 * NOT_FOUND for `updateTask`/`updateList`/`deleteTask`/`deleteList` on a row the
 * caller cannot see, the same whether it never existed or is someone else's —
 * RLS makes the two indistinguishable and so do we. PostGraphile V5 says it in two
 * ways (an update returns `{ task: null }`, a delete fails with its own message);
 * each mutation's plan turns both into one error.
 */
import { object, sideEffect, trap, TRAP_ERROR, type ObjectStep } from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";
import { ApiError } from "../errors";
import { UPSTREAM } from "../errors/upstream";

/** An update's null row, or a delete's "no values were deleted". */
const nothingMatched = (outcome: unknown) =>
  outcome == null || (outcome instanceof Error && UPSTREAM.nothingDeleted.pattern.test(outcome.message));

function requireRow(entity: string) {
  return (plan: () => ObjectStep<{ result: never }>) => {
    const $result = plan().getStepForKey("result");
    // trap: a failed mutation reaches the check as a value; any other failure keeps its own error.
    const $found = sideEffect(trap($result, TRAP_ERROR), (outcome) => {
      if (nothingMatched(outcome)) throw new ApiError("NOT_FOUND", `no ${entity} with this id was found`);
      return true;
    });
    // `found` first: of two failed dependencies, the first one's error is the field's.
    return object({ found: $found, result: $result });
  };
}

export const NotFoundPlugin = wrapPlans({
  Mutation: {
    updateTask: requireRow("task"),
    updateList: requireRow("list"),
    deleteTask: requireRow("task"),
    deleteList: requireRow("list"),
  },
});
