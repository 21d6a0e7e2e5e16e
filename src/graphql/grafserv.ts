/**
 * grafserv's own answers, given catalogue codes: what it refuses before GraphQL
 * runs (a media type it does not read, an Accept it cannot serve, a GET, a body
 * whose `query`, `variables`, `operationName` or `extensions` has the wrong JSON
 * type, a refused trusted document) carries at most `extensions.statusCode`.
 * Its 4xx messages are written for clients and kept; a 5xx goes through the masker.
 */
import { GraphQLError } from "postgraphile/graphql";
import { errorExtensions, isErrorCode } from "../errors";
import type { MaskError } from "../errors/mask";
import { currentRequest } from "../http/requestContext";

interface WireError {
  message: string;
  extensions?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The body with every error coded and no `statusCode` extension, or undefined when it needs no change. */
export function codeGrafservErrors(status: number, buffer: Buffer, maskError: MaskError): object | undefined {
  let body: { errors?: unknown };
  try {
    body = JSON.parse(buffer.toString("utf8")) as { errors?: unknown };
  } catch {
    return undefined; // not a GraphQL body
  }
  if (!Array.isArray(body.errors)) return undefined;
  let changed = false;
  const errors = (body.errors as WireError[]).map((error) => {
    const { statusCode, ...extensions } = error.extensions ?? {};
    const code = extensions.code;
    if (isErrorCode(code) && statusCode === undefined) return error; // masked already
    changed = true;
    if (isErrorCode(code)) {
      currentRequest()?.errors.push({ code });
      return { ...error, extensions };
    }
    if (status >= 500) return maskError(new GraphQLError(error.message)).toJSON();
    currentRequest()?.errors.push({ code: "BAD_USER_INPUT" });
    const message = status === 405 ? "GraphQL requests must use POST" : error.message;
    return { message, extensions: errorExtensions("BAD_USER_INPUT") };
  });
  return changed ? { ...body, errors } : undefined;
}
