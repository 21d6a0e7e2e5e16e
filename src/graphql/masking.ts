/**
 * The errors grafserv would answer over HTTP without our masker seeing them
 * whole, given a catalogue code like every other: parse and validation errors,
 * which it returns as they are, and an error thrown out of execution (e.g. the
 * connection died before the first query), which it masks stripped of its
 * cause, so a lost connection would read INTERNAL instead of UNAVAILABLE.
 */
import { GraphQLError } from "postgraphile/graphql";

export function makeMaskingPlugin(maskError: (error: GraphQLError) => GraphQLError): GraphileConfig.Plugin {
  return {
    name: "TasksMaskingPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          // Parsing and validation belong to grafserv and have no middleware of their own; this is
          // where grafserv's own envelop plugin replaces them too.
          const getExecutionConfig = event.getExecutionConfig;
          event.getExecutionConfig = async function (ctx) {
            const config = await getExecutionConfig.call(this, ctx);
            return {
              ...config,
              parseAndValidate(query) {
                const result = config.parseAndValidate(query);
                return result.errors ? { errors: result.errors.map(maskError) } : result;
              },
            };
          };
          return next();
        },
      },
    },
    grafast: {
      middleware: {
        async execute(next) {
          try {
            return await next();
          } catch (error) {
            // Returned instead, it reaches maskError with its cause.
            const cause = error instanceof Error ? error : new Error(String(error));
            return { errors: [new GraphQLError(cause.message, { originalError: cause })] };
          }
        },
      },
    },
  };
}
