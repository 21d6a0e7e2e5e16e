/**
 * Last touches to every GraphQL response, applied where grafserv hands it to
 * the HTTP layer:
 *  - one whose errors include UNAVAILABLE (the database could not be reached, or
 *    no pool connection came free in time) becomes HTTP 503 with Retry-After, as
 *    PostgREST does, so load balancers and clients back off and retry;
 *  - one that grafserv answered itself, outside GraphQL (a refused media type,
 *    a body of the wrong shape, a GET, a refused document), gets the catalogue
 *    code for its status (grafserv.ts) and loses the `statusCode` grafserv puts
 *    in `extensions`; a GET also gets `Allow: POST`.
 */
import { retryAfterSeconds } from "../errors";
import type { MaskError } from "../errors/mask";
import { currentRequest } from "../http/requestContext";
import { codeGrafservErrors } from "./grafserv";

export function makeResponsePlugin(maskError: MaskError): GraphileConfig.Plugin {
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
          } else if (result.statusCode >= 400 && result.type === "buffer") {
            const coded = codeGrafservErrors(result.statusCode, result.buffer, maskError);
            if (coded) replaceBody(result, coded);
            if (result.statusCode === 405) result.headers["allow"] = "POST"; // no GraphQL over GET
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
