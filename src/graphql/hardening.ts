/**
 * Request-level rules grafserv applies around execution: the query limits,
 * introspection off in production, and the parse and validation errors — which
 * grafserv returns without calling maskError — given a catalogue code like every
 * other error.
 */
import { NoSchemaIntrospectionCustomRule, type GraphQLError } from "postgraphile/graphql";
import { limitRules, pageSizeViolation, type QueryLimits } from "./limits";

export interface HardeningOptions {
  production: boolean;
  limits: QueryLimits;
  maskError: (error: GraphQLError) => GraphQLError;
}

export function makeHardeningPlugin({ production, limits, maskError }: HardeningOptions): GraphileConfig.Plugin {
  return {
    name: "TasksHardeningPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(...limitRules(limits));
          if (production) event.validationRules.push(NoSchemaIntrospectionCustomRule);
          const getExecutionConfig = event.getExecutionConfig;
          event.getExecutionConfig = async function (ctx) {
            const config = await getExecutionConfig.call(this, ctx);
            return {
              ...config,
              parseAndValidate(query) {
                const result = config.parseAndValidate(query);
                return result.errors ? { ...result, errors: result.errors.map(maskError) } : result;
              },
              execute(args) {
                const violation = pageSizeViolation(args.document, args.variableValues, limits.pageSize);
                return violation ? { errors: [violation] } : config.execute(args);
              },
            };
          };
          return next();
        },
      },
    },
  };
}
