/**
 * The JSON body of a GraphQL request, parsed once with a size limit. Errors are
 * answered here in the catalogue's shape: an oversized body is 413, a charset
 * other than UTF-8/16/32 or an unknown Content-Encoding 415, and malformed JSON,
 * a gzip/deflate/br body that does not decompress and batched operations (an array
 * of requests, which this API does not run) 400.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { sendError, type ErrorCode, type ErrorExtras } from "../errors";
import { UPSTREAM } from "../errors/upstream";
import { currentRequest } from "./requestContext";

type BodyError = Error & { type?: string; status?: number };

/** What the client is told about a body the parser refused; undefined for a fault of ours. */
function refusalOf(error: BodyError, maxBytes: number): [number, ErrorCode, string, ErrorExtras?] | undefined {
  const type = error.type ?? "";
  if (UPSTREAM.bodyTooLarge.pattern.test(type))
    return [413, "LIMIT_EXCEEDED", `the request body is larger than ${maxBytes} bytes`, { limit: "bodySize" }];
  if (UPSTREAM.bodyNotJson.pattern.test(type)) return [400, "BAD_USER_INPUT", "the request body is not valid JSON"];
  if (UPSTREAM.bodyCharset.pattern.test(type))
    return [415, "BAD_USER_INPUT", "send the body as UTF-8 (Content-Type: application/json; charset=utf-8)"];
  if (UPSTREAM.bodyEncoding.pattern.test(type))
    return [415, "BAD_USER_INPUT", "Content-Encoding must be identity, gzip, deflate or br"];
  // Anything else the parser answers 4xx (http-errors' `status`) is about the request as sent:
  // a body that does not decompress, one shorter than its Content-Length, an aborted upload.
  const status = error.status ?? 500;
  if (status >= 400 && status < 500) return [400, "BAD_USER_INPUT", "the request body could not be read"];
  return undefined;
}

export function graphqlBody(maxBytes: number) {
  const parse = express.json({ limit: maxBytes, type: ["application/json", "application/graphql-response+json"] });
  return [
    // Only the parser's own errors are judged here; any other passes on to the last-resort handler.
    (req: Request, res: Response, next: NextFunction) =>
      parse(req, res, (error?: unknown) => {
        if (!error) return next();
        const refusal = error instanceof Error ? refusalOf(error, maxBytes) : undefined;
        if (!refusal) return next(error);
        const [status, code, message, extra] = refusal;
        currentRequest()?.errors.push({ code });
        sendError(res, status, code, message, extra);
      }),
    (req: Request, res: Response, next: NextFunction) => {
      if (Array.isArray(req.body)) {
        currentRequest()?.errors.push({ code: "LIMIT_EXCEEDED" });
        return sendError(res, 400, "LIMIT_EXCEEDED", "send one operation per request; batching is not supported", {
          limit: "operations",
        });
      }
      next();
    },
  ];
}
