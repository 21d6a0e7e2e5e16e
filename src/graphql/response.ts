/**
 * Last touches to every GraphQL response, applied where grafserv hands it to
 * the HTTP layer:
 *  - one whose errors include UNAVAILABLE (the database could not be reached, or
 *    no pool connection came free in time) becomes HTTP 503 with Retry-After, as
 *    PostgREST does, so load balancers and clients back off and retry;
 *  - one that grafserv answered itself without the masker (a bare 500 "Unknown
 *    error occurred", for an error thrown outside execution, e.g. when a
 *    connection dies between its own steps) goes through the masker now;
 *  - grafserv's uncoded 405 for a GET becomes BAD_USER_INPUT with `Allow: POST`.
 */
import { GraphQLError } from "postgraphile/graphql";
import { errorBody, retryAfterSeconds } from "../errors";
import { currentRequest } from "../http/requestContext";

export function makeResponsePlugin(maskError: (error: GraphQLError) => GraphQLError): GraphileConfig.Plugin {
  return {
    name: "TasksResponsePlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        async processRequest(next) {
          const result = await next();
          if (!result) return result;
          if (currentRequest()?.errors.some((e) => e.code === "UNAVAILABLE")) {
            result.statusCode = 503;
            result.headers["retry-after"] = String(retryAfterSeconds("UNAVAILABLE"));
          } else if (result.statusCode === 405 && result.type === "buffer") {
            // grafserv's "Method not supported" carries no code; GET is not served (no GraphQL over GET).
            currentRequest()?.errors.push({ code: "BAD_USER_INPUT" });
            result.headers["allow"] = "POST";
            replaceBody(result, errorBody("BAD_USER_INPUT", "GraphQL requests must use POST"));
          } else if (result.statusCode === 500 && result.type === "buffer") {
            const body = JSON.parse(result.buffer.toString("utf8")) as {
              errors?: Array<{ message: string; extensions?: { code?: string } }>;
            };
            const uncoded = body.errors?.find((e) => !e.extensions?.code);
            if (uncoded) replaceBody(result, { errors: [maskError(new GraphQLError(uncoded.message)).toJSON()] });
          }
          return result;
        },
      },
    },
  };
}

function replaceBody(result: { buffer: Buffer; headers: Record<string, string> }, body: object): void {
  result.buffer = Buffer.from(JSON.stringify(body));
  result.headers["content-length"] = String(result.buffer.length);
}
