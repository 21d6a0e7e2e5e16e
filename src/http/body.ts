/**
 * The JSON body of a GraphQL request, parsed once with a size limit. Errors are
 * answered here in the catalogue's shape: an oversized body is 413, malformed JSON
 * and batched operations (an array of requests, which this API does not run) are 400.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { sendError } from "../errors";
import { UPSTREAM } from "../errors/upstream";

export function graphqlBody(maxBytes: number) {
  const parse = express.json({ limit: maxBytes, type: ["application/json", "application/graphql-response+json"] });
  return [
    parse,
    (req: Request, res: Response, next: NextFunction) => {
      if (Array.isArray(req.body)) {
        return sendError(res, 400, "LIMIT_EXCEEDED", "send one operation per request; batching is not supported", {
          limit: "operations",
        });
      }
      next();
    },
    (error: Error & { type?: string }, _req: Request, res: Response, next: NextFunction) => {
      const type = error.type ?? "";
      if (UPSTREAM.bodyTooLarge.pattern.test(type)) {
        return sendError(res, 413, "LIMIT_EXCEEDED", `the request body is larger than ${maxBytes} bytes`, {
          limit: "bodySize",
        });
      }
      if (UPSTREAM.bodyNotJson.pattern.test(type))
        return sendError(res, 400, "BAD_USER_INPUT", "the request body is not valid JSON");
      next(error);
    },
  ];
}
