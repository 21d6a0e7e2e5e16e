/**
 * The last handlers: a 404 for any path no route took, and Express's last resort
 * for an error a middleware passed on, both in the catalogue's shape. An error
 * that carries a 4xx status (the http-errors convention Express and its parsers
 * follow) is the client's: answered with that status as BAD_USER_INPUT and logged
 * at warn. Anything else is ours: INTERNAL, logged at error, never shown.
 */
import type { NextFunction, Request, Response } from "express";
import { sendError } from "../errors";
import type { Logger } from "../logger";
import { currentRequest } from "./requestContext";

export function fallbacks(log: Logger) {
  return [
    (_req: Request, res: Response) => sendError(res, 404, "NOT_FOUND", "Not found; GraphQL is at /graphql"),
    (error: Error & { status?: unknown }, _req: Request, res: Response, _next: NextFunction) => {
      const status = typeof error.status === "number" ? error.status : 500;
      if (status >= 400 && status < 500) {
        log.warn({ err: error, status }, "client error outside GraphQL");
        currentRequest()?.errors.push({ code: "BAD_USER_INPUT" });
        return sendError(res, status, "BAD_USER_INPUT", "the request could not be processed as sent");
      }
      log.error({ err: error }, "unhandled HTTP error");
      sendError(res, 500, "INTERNAL", "An internal error occurred");
    },
  ];
}
