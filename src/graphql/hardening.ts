/**
 * Request-level rules grafserv applies around execution: the query limits,
 * introspection off in production, and the parse and validation errors — which
 * grafserv returns without calling maskError — given a catalogue code like every
 * other error.
 */
import { GraphQLError, NoSchemaIntrospectionCustomRule } from "postgraphile/graphql";
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
          // grafserv hands out the same config object request after request: wrap each once.
          type ExecutionConfig = Awaited<ReturnType<typeof getExecutionConfig>>;
          const wrapped = new WeakMap<ExecutionConfig, ExecutionConfig>();
          event.getExecutionConfig = async function (ctx) {
            const config = await getExecutionConfig.call(this, ctx);
            let hardened = wrapped.get(config);
            if (!hardened) wrapped.set(config, (hardened = harden(config)));
            return hardened;
          };
          const harden = (config: ExecutionConfig): ExecutionConfig => ({
            ...config,
            parseAndValidate(query) {
              const result = config.parseAndValidate(query);
              return result.errors ? { ...result, errors: result.errors.map(maskError) } : result;
            },
            async execute(args) {
              const violation = pageSizeViolation(args.document, args.variableValues, limits.pageSize);
              if (violation) return { errors: [violation] };
              try {
                return await config.execute(args);
              } catch (error) {
                // Thrown rather than returned (e.g. the connection died before the first
                // query): grafserv would answer a bare "Unknown error occurred" 500.
                const masked = maskError(
                  new GraphQLError(String((error as Error)?.message), { originalError: error as Error }),
                );
                return { errors: [new GraphQLError(masked.message, { extensions: masked.extensions })] };
              }
            },
          });
          return next();
        },
      },
    },
  };
}
