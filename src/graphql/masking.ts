/**
 * The errors grafserv would answer over HTTP without our masker seeing them
 * whole, given a catalogue code like every other: parse and validation errors,
 * which it returns as they are, and an error thrown out of execution (e.g. the
 * connection died before the first query), which it masks stripped of its
 * cause, so a lost connection would read INTERNAL instead of UNAVAILABLE.
 * Documents nested deeper than MAX_NESTING are refused before parsing: graphql-js
 * parses (and later steps walk) nesting by recursion, and 3,000 `[` exhaust the stack.
 */
import { GraphQLError, Lexer, Source, TokenKind } from "postgraphile/graphql";
import { errorExtensions } from "../errors";
import { DOCUMENT_TOO_DEEP, type MaskError } from "../errors/mask";

/**
 * Brackets (`{`, `[`, `(`) open at once anywhere in a document. Selection depth is capped at
 * MAX_QUERY_DEPTH (at most 100) by the limits; this bounds input values (`{and: [{and: …`) too.
 */
export const MAX_NESTING = 128;

const OPENING = new Set<string>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<string>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/** Whether the document nests brackets deeper than `max`; graphql-js's lexer is a loop, so this cannot overflow. */
export function nestsDeeperThan(query: string, max: number): boolean {
  if (query.length <= max) return false;
  const lexer = new Lexer(new Source(query));
  let depth = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (OPENING.has(token.kind) && ++depth > max) return true;
      if (CLOSING.has(token.kind)) depth -= 1;
    }
  } catch {
    return false; // a syntax error: the parser reports it
  }
  return false;
}

export function makeMaskingPlugin(maskError: MaskError): GraphileConfig.Plugin {
  const tooDeep = () =>
    new GraphQLError(DOCUMENT_TOO_DEEP, { extensions: errorExtensions("LIMIT_EXCEEDED", { limit: "depth" }) });
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
                if (nestsDeeperThan(query, MAX_NESTING)) return { errors: [maskError(tooDeep(), "document")] };
                const result = config.parseAndValidate(query);
                if (!result.errors) return result;
                return {
                  errors: result.errors.map((error: unknown) =>
                    maskError(
                      error instanceof GraphQLError
                        ? error
                        : new GraphQLError(String((error as Error)?.message ?? error), {
                            originalError: error as Error,
                          }),
                      "document",
                    ),
                  ),
                };
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
