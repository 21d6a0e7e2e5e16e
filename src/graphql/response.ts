/**
 * Last touches to every GraphQL response, applied where grafserv hands it to
 * the HTTP layer:
 *  - one whose errors include UNAVAILABLE (the database could not be reached, or
 *    no pool connection came free in time) becomes HTTP 503 with Retry-After, as
 *    PostgREST does, so load balancers and clients back off and retry;
 *  - one that grafserv could not produce at all (it answers a bare 500 "Unknown
 *    error occurred", e.g. when a connection dies between its own steps) gets the
 *    catalogue's INTERNAL shape and an error id in our log;
 *  - grafserv's uncoded 405 for a GET becomes BAD_USER_INPUT with `Allow: POST`.
 */
import { randomUUID } from "node:crypto";
import { currentRequest } from "../http/requestContext";
import type { Logger } from "../logger";

export function makeResponsePlugin(retryAfterSeconds: number, log: Logger): GraphileConfig.Plugin {
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
            result.headers["retry-after"] = String(retryAfterSeconds);
          } else if (result.statusCode === 405 && result.type === "buffer") {
            // grafserv's "Method not supported" carries no code; GET is not served (no GraphQL over GET).
            currentRequest()?.errors.push({ code: "BAD_USER_INPUT" });
            result.headers["allow"] = "POST";
            replaceErrors(result, {
              message: "GraphQL requests must use POST",
              extensions: { code: "BAD_USER_INPUT" },
            });
          } else if (result.statusCode === 500 && result.type === "buffer") {
            const body = JSON.parse(result.buffer.toString("utf8")) as {
              errors?: Array<{ extensions?: { code?: string } }>;
            };
            if (body.errors?.some((e) => !e.extensions?.code)) {
              const errorId = randomUUID();
              log.error({ errorId, errors: body.errors }, "grafserv could not handle the request");
              currentRequest()?.errors.push({ code: "INTERNAL", errorId });
              replaceErrors(result, {
                message: `An internal error occurred; it was logged with id ${errorId}`,
                extensions: { code: "INTERNAL", errorId },
              });
            }
          }
          return result;
        },
      },
    },
  };
}

function replaceErrors(
  result: { buffer: Buffer; headers: Record<string, string> },
  error: { message: string; extensions: Record<string, string> },
): void {
  result.buffer = Buffer.from(JSON.stringify({ errors: [error] }));
  result.headers["content-length"] = String(result.buffer.length);
}
