/**
 * Limits on what one GraphQL request may ask for, enforced before any SQL runs:
 * depth, cost, aliases and directives as validation rules (graphql-armor), no
 * introspection in production, and the page size of `first`/`last`, which needs
 * the request's variables and so is checked just before execution. Each refusal
 * of a limit is LIMIT_EXCEEDED naming it.
 */
import { costLimitRule } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import {
  getOperationAST,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  visit,
  type ArgumentNode,
  type DocumentNode,
  type ValidationContext,
  type ValidationRule,
} from "postgraphile/graphql";
import { errorExtensions } from "../errors";
import { UPSTREAM } from "../errors/upstream";

export interface QueryLimits {
  depth: number;
  cost: number;
  aliases: number;
  directives: number;
  pageSize: number;
}

export const limitExceeded = (limit: string, message: string, nodes?: GraphQLError["nodes"]) =>
  new GraphQLError(message, { nodes, extensions: errorExtensions("LIMIT_EXCEEDED", { limit }) });

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
    costLimitRule({ ...reportAs("cost"), ignoreIntrospection: true, maxCost: limits.cost }),
    maxAliasesRule({ ...reportAs("aliases"), n: limits.aliases }),
    maxDirectivesRule({ ...reportAs("directives"), n: limits.directives }),
  ];
}

/** The `first`/`last` arguments of a document; documents are cached by grafserv, so this is found once each. */
const pagingArguments = new WeakMap<DocumentNode, ArgumentNode[]>();

function pagingArgumentsOf(document: DocumentNode): ArgumentNode[] {
  let found = pagingArguments.get(document);
  if (!found) {
    const collected: ArgumentNode[] = [];
    visit(document, {
      Argument(node) {
        if (node.name.value === "first" || node.name.value === "last") collected.push(node);
      },
    });
    pagingArguments.set(document, (found = collected));
  }
  return found;
}

/** The first `first`/`last` argument above the page size, with literals and variables resolved. */
export function pageSizeViolation(
  document: DocumentNode,
  variables: Record<string, unknown> | null | undefined,
  pageSize: number,
): GraphQLError | undefined {
  for (const node of pagingArgumentsOf(document)) {
    const value =
      node.value.kind === Kind.INT
        ? Number(node.value.value)
        : node.value.kind === Kind.VARIABLE
          ? variables?.[node.value.name.value]
          : undefined;
    if (typeof value === "number" && value > pageSize) {
      return limitExceeded(
        "pageSize",
        `${node.name.value} may be at most ${pageSize}; page through larger results with cursors`,
        [node],
      );
    }
  }
  return undefined;
}

/**
 * The limits, applied where each step runs: the rules join grafserv's own
 * validation, and the page size is checked before grafast executes an
 * operation — or, for a subscription, when grafserv accepts it from a socket:
 * its refusal must be graphql-ws's `error` message, and grafast's `subscribe`
 * middleware could only answer with a `next` message carrying errors.
 */
export function makeLimitsPlugin(
  limits: QueryLimits,
  { introspection }: { introspection: boolean },
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
          const { document, operationName, variableValues } = args;
          // Anything else is executed, and checked there.
          if (getOperationAST(document, operationName)?.operation !== "subscription") return args;
          const violation = pageSizeViolation(document, variableValues, limits.pageSize);
          return violation ? [violation] : args;
        },
      },
    },
    grafast: {
      middleware: {
        execute(next, { args }) {
          const violation = pageSizeViolation(args.document, args.variableValues, limits.pageSize);
          return violation ? { errors: [violation] } : next();
        },
      },
    },
  };
}
