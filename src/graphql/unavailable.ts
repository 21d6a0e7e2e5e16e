/**
 * A response whose errors include UNAVAILABLE (the database could not be reached,
 * or no pool connection came free in time) becomes HTTP 503 with Retry-After, as
 * PostgREST does: load balancers and clients know to back off and try again,
 * instead of treating a 200 full of errors as an answer.
 */
import { currentRequest } from "../http/requestContext";

export function makeUnavailablePlugin(retryAfterSeconds: number): GraphileConfig.Plugin {
  return {
    name: "TasksUnavailablePlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        async processRequest(next) {
          const result = await next();
          if (result && currentRequest()?.errors.some((e) => e.code === "UNAVAILABLE")) {
            result.statusCode = 503;
            result.headers["retry-after"] = String(retryAfterSeconds);
          }
          return result;
        },
      },
    },
  };
}
