/**
 * Limits on what one GraphQL request may ask for, enforced before any SQL runs:
 * depth, aliases and directives as validation rules (graphql-armor), no
 * introspection in production, and the page sizes and row cost of the operation
 * (./cost.ts), which need the request's variables and so are checked just
 * before execution. Each refusal of a limit is LIMIT_EXCEEDED naming it.
 */
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import {
  getOperationAST,
  NoSchemaIntrospectionCustomRule,
  GraphQLError,
  type ValidationContext,
  type ValidationRule,
} from "postgraphile/graphql";
import { UPSTREAM } from "../errors/upstream";
import type { RowBudget } from "./rowBudget";
import { assessOperation, limitExceeded, type CostRules } from "./cost";

export { limitExceeded } from "./cost";

export interface QueryLimits extends CostRules {
  depth: number;
  aliases: number;
  directives: number;
}

/**
 * graphql-armor throws its refusal ("Syntax Error: …") unless told not to; reporting
 * it instead keeps it a validation error, which the masker then passes through.
 */
function reportAs(limit: string) {
  return {
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) =>
        context?.reportError(
          limitExceeded(limit, error.message.replace(UPSTREAM.armorSyntaxPrefix.pattern, ""), error.nodes),
        ),
    ],
  };
}

export function limitRules(limits: QueryLimits): ValidationRule[] {
  return [
    maxDepthRule({ ...reportAs("depth"), ignoreIntrospection: true, n: limits.depth }),
    maxAliasesRule({ ...reportAs("aliases"), n: limits.aliases }),
    maxDirectivesRule({ ...reportAs("directives"), n: limits.directives }),
  ];
}

/**
 * The limits, applied where each step runs: the rules join grafserv's own
 * validation, and pages and cost are checked before grafast executes an
 * operation — or, for a subscription, when grafserv accepts it from a socket:
 * its refusal must be graphql-ws's `error` message, and grafast's `subscribe`
 * middleware could only answer with a `next` message carrying errors.
 */
export function makeLimitsPlugin(
  limits: QueryLimits,
  { introspection, rowBudget }: { introspection: boolean; rowBudget: RowBudget },
): GraphileConfig.Plugin {
  return {
    name: "TasksLimitsPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(...limitRules(limits));
          if (!introspection) event.validationRules.push(NoSchemaIntrospectionCustomRule);
          return next();
        },
        async onSubscribe(next) {
          const args = await next();
          if (!args || !("document" in args)) return args; // refused already
          const { schema, document, operationName, variableValues } = args;
          // Anything else is executed, and checked there.
          if (getOperationAST(document, operationName)?.operation !== "subscription") return args;
          const { error } = assessOperation(schema, document, operationName, variableValues, limits);
          return error ? [error] : args;
        },
      },
    },
    grafast: {
      middleware: {
        execute(next, { args }) {
          const { schema, document, operationName, variableValues, contextValue } = args;
          const { rows, error } = assessOperation(schema, document, operationName, variableValues, limits);
          if (error) return { errors: [error] };
          try {
            rowBudget.charge((contextValue as { fairShareKey: string }).fairShareKey, rows);
          } catch (refusal) {
            return { errors: [new GraphQLError((refusal as Error).message, { originalError: refusal as Error })] };
          }
          return next();
        },
        subscribe(next, { args }) {
          // Each event's re-read is paid from the same budget, before it borrows a connection: a user's
          // own changes cannot fan out into more reads than their rows a minute (the event then says RATE_LIMITED).
          const { schema, document, operationName, variableValues } = args;
          const { rows } = assessOperation(schema, document, operationName, variableValues, limits);
          const context = args.contextValue as { fairShareKey: string; withPgClient: Grafast.Context["withPgClient"] };
          const withPgClient = context.withPgClient;
          context.withPgClient = (pgSettings, callback) => {
            rowBudget.charge(context.fairShareKey, rows);
            return withPgClient(pgSettings, callback);
          };
          return next();
        },
      },
    },
  };
}
