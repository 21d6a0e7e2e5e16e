/**
 * Request-level rules grafserv applies before execution: introspection off in
 * production, and the parse and validation errors — which grafserv returns
 * without calling maskError — given a catalogue code like every other error.
 */
import { NoSchemaIntrospectionCustomRule, type GraphQLError } from "postgraphile/graphql";

export interface HardeningOptions {
  production: boolean;
  maskError: (error: GraphQLError) => GraphQLError;
}

export function makeHardeningPlugin({ production, maskError }: HardeningOptions): GraphileConfig.Plugin {
  return {
    name: "TasksHardeningPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
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
            };
          };
          return next();
        },
      },
    },
  };
}
