/**
 * The last handlers: a 404 for any path no route took, and Express's last resort
 * for an error a middleware passed on (logged, never shown), both in the
 * catalogue's shape.
 */
import type { NextFunction, Request, Response } from "express";
import { sendError } from "../errors";
import type { Logger } from "../logger";

export function fallbacks(log: Logger) {
  return [
    (_req: Request, res: Response) => sendError(res, 404, "NOT_FOUND", "Not found; GraphQL is at /graphql"),
    (error: Error, _req: Request, res: Response, _next: NextFunction) => {
      log.error({ err: error }, "unhandled HTTP error");
      sendError(res, 500, "INTERNAL", "An internal error occurred");
    },
  ];
}
