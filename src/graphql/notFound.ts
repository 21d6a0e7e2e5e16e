/**
 * `updateTask`/`updateList` on a row the caller cannot see return `{ task: null }`
 * in PostGraphile V5, while deletes report an error. Clients deserve one answer
 * for both: NOT_FOUND, the same whether the row never existed or is someone
 * else's — RLS makes the two indistinguishable and so do we.
 */
import { object, sideEffect, type ObjectStep } from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";
import { ApiError } from "../errors";

const requireRow = (entity: string) => (row: unknown) => {
  if (row == null) throw new ApiError("NOT_FOUND", `no ${entity} with this id was found`);
  return row;
};

function requireUpdatedRow(entity: string) {
  const check = requireRow(entity);
  return (plan: () => ObjectStep<{ result: never }>) => {
    const $result = plan().getStepForKey("result");
    sideEffect($result, check);
    // Created after the side effect, so it fails when the check fails.
    return object({ result: $result });
  };
}

export const NotFoundPlugin = wrapPlans({
  Mutation: {
    updateTask: requireUpdatedRow("task"),
    updateList: requireUpdatedRow("list"),
  },
});
