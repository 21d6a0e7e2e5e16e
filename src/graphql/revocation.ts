/**
 * `revokeMyTokens` answers only once this process has heard the new cut-off (auth/revocation.ts
 * learns cut-offs by NOTIFY, a few milliseconds after the commit): the client's next request, with
 * an old token, is refused here too, not just "within a second".
 */
import { sideEffect, type ExecutableStep } from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";
import type { Revocations } from "../auth/revocation";

export function makeRevocationPlugin(revocations: Revocations): GraphileConfig.Plugin {
  return wrapPlans({
    Mutation: {
      revokeMyTokens(plan: () => ExecutableStep) {
        const $payload = plan();
        // After the mutation's transaction has committed (it depends on its result); has side effects, so it runs.
        sideEffect($payload, () => revocations.caughtUp());
        return $payload;
      },
    },
  });
}
