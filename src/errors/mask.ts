/**
 * The GraphQL masker: maps every error grafserv hands it onto the catalogue.
 *
 * Clients see a stable `extensions.code` (docs/errors.md) and a message written
 * here, never the database's own text: no SQL, table, constraint or column names
 * they did not send, no stack, no host names. Anything unexpected becomes INTERNAL
 * with an `errorId` that is also in the server log next to the full error.
 */
import { randomUUID } from "node:crypto";
import { isSafeError } from "postgraphile/grafast";
import { GraphQLError } from "postgraphile/graphql";
import { currentRequest } from "../http/requestContext";
import type { Logger } from "../logger";
import { ApiError, errorExtensions, isErrorCode, type ErrorCode } from ".";
import { UPSTREAM } from "./upstream";

interface PublicError {
  code: ErrorCode;
  message: string;
  /** The input field at fault (VALIDATION_FAILED). */
  field?: string;
  /** For a CONFLICT that may succeed if sent again; codes that always may say so in the catalogue. */
  retryable?: true;
  /** The limit that was exceeded (LIMIT_EXCEEDED). */
  limit?: string;
  /** The row's version now (CONFLICT on an outdated expectedVersion). */
  currentVersion?: number;
}

/**
 * Every named constraint a client can trip, with the GraphQL field it belongs to.
 * test/api/errors.test.ts fails if a constraint in the schema is missing here.
 */
export const CONSTRAINTS: Record<string, { field: string; message: string }> = {
  tasks_title_length: { field: "title", message: "title must be 1 to 500 characters, not counting surrounding spaces" },
  tasks_description_length: { field: "description", message: "description must be at most 10,000 characters" },
  tasks_tags_count: { field: "tags", message: "a task can have at most 20 tags" },
  tag_length: { field: "tags", message: "each tag must be 1 to 50 characters, not counting surrounding spaces" },
  tasks_list_id_fkey: { field: "listId", message: "listId must be the id of one of your lists" },
  tasks_completed_at_matches_completed: {
    field: "completed",
    message: "completedAt must be set exactly when completed",
  },
  tasks_user_id_length: { field: "userId", message: "the user id must be 1 to 255 characters" },
  lists_name_length: { field: "name", message: "name must be 1 to 200 characters, not counting surrounding spaces" },
  lists_user_id_length: { field: "userId", message: "the user id must be 1 to 255 characters" },
};

/** Domain errors raised by our own SQL (`raise … using errcode = 'TK…'`); their message is ours to show. */
const OWN_SQLSTATES: Record<string, ErrorCode> = {
  TK403: "FORBIDDEN",
  TK404: "NOT_FOUND",
  TK409: "CONFLICT",
  TK422: "VALIDATION_FAILED",
};

interface DatabaseErrorLike {
  code: string;
  constraint?: string;
  column?: string;
  message: string;
  severity?: string;
}

function isDatabaseError(error: unknown): error is DatabaseErrorLike {
  return (
    error instanceof Error &&
    typeof (error as Partial<DatabaseErrorLike>).code === "string" &&
    typeof (error as Partial<DatabaseErrorLike>).severity === "string"
  );
}

const camelCase = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

const DATABASE_UNAVAILABLE: PublicError = {
  code: "UNAVAILABLE",
  message: "the database is unavailable; retry shortly",
};

/** Maps a Postgres error (by SQLSTATE) to the catalogue, or undefined for "unexpected". */
export function fromDatabaseError(error: DatabaseErrorLike): PublicError | undefined {
  const { code } = error;
  const own = OWN_SQLSTATES[code];
  if (own) return { code: own, message: error.message };
  const known = error.constraint ? CONSTRAINTS[error.constraint] : undefined;
  switch (code) {
    case "23514": // check_violation
    case "23503": // foreign_key_violation
      return known
        ? { code: "VALIDATION_FAILED", message: known.message, field: known.field }
        : { code: "VALIDATION_FAILED", message: "a value breaks a data rule" };
    case "23502": // not_null_violation
      return {
        code: "VALIDATION_FAILED",
        message: "a required value is missing",
        ...(error.column ? { field: camelCase(error.column) } : {}),
      };
    case "23505": // unique_violation
    case "23P01": // exclusion_violation
      return { code: "CONFLICT", message: "this conflicts with an existing record" };
    case "40001": // serialization_failure
    case "40P01": // deadlock_detected
      return { code: "CONFLICT", message: "the change collided with a concurrent one; retry it", retryable: true };
    case "42501": // insufficient_privilege, including a row-level security "with check" failure
      return { code: "FORBIDDEN", message: "you are not allowed to do this" };
    case "57014": // query_canceled (statement_timeout)
      return { code: "TIMEOUT", message: "the request took too long and was cancelled" };
  }
  if (code.startsWith("22"))
    return { code: "BAD_USER_INPUT", message: "a value has the wrong format or is out of range" };
  // connection exceptions, shutdowns, too many connections, out of resources
  if (/^(08|53|57P0)/.test(code)) return DATABASE_UNAVAILABLE;
  return undefined;
}

const NETWORK_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"]);

/** What pg and pg-pool throw, without a SQLSTATE, when there is no usable connection. */
const CONNECTION_LOST = [UPSTREAM.connectionTerminated, UPSTREAM.poolWaitTimeout, UPSTREAM.clientBroken];

function isConnectionFailure(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    (typeof code === "string" && NETWORK_ERRORS.has(code)) ||
    CONNECTION_LOST.some(({ pattern }) => pattern.test(error.message))
  );
}

function classify(error: GraphQLError, nested = false): PublicError | undefined {
  const original = error.originalError;
  if (!original) {
    // Errors about the request itself point at it (syntax, validation) or name its
    // variable (coercion). One that does neither is grafserv re-wrapping a thrown
    // error's bare message (`new GraphQLError(e.message)`): that text is not ours to show.
    // (A GraphQLError inside another borrows the outer one's position.)
    if (!nested && !error.positions?.length && !error.path && !UPSTREAM.variableCoercion.pattern.test(error.message))
      return undefined;
    return { code: "BAD_USER_INPUT", message: error.message };
  }
  // A variable the client sent that a scalar could not read, whatever the scalar threw (an object
  // whose own `toString` is not a function makes graphile-build's scalars throw a TypeError).
  if (!nested && original instanceof GraphQLError && UPSTREAM.variableCoercion.pattern.test(error.message)) {
    return { code: "BAD_USER_INPUT", message: error.message };
  }
  if (original instanceof GraphQLError) return classify(original, true);
  if (isSafeError(original)) {
    // Grafast's "safe to show" errors, e.g. "Attempted to update a record, but no new values were specified."
    const status = Number(original.extensions?.statusCode ?? 400);
    return status >= 500 ? undefined : { code: "BAD_USER_INPUT", message: original.message };
  }
  if (original instanceof ApiError) {
    return {
      code: original.code,
      message: original.message,
      ...(original.field ? { field: original.field } : {}),
      ...original.extras,
    };
  }
  if (isDatabaseError(original)) return fromDatabaseError(original);
  if (UPSTREAM.filterInput.pattern.test(original.message)) return { code: "BAD_USER_INPUT", message: original.message };
  if (isConnectionFailure(original)) return DATABASE_UNAVAILABLE;
  return undefined;
}

/**
 * An error from parsing or validating the client's document. The document is the client's, so
 * every such error is theirs: a scalar's complaint about a literal comes without a position (or
 * wrapped, with the scalar's error as its cause), and a document nested past the parser's stack
 * ends in a RangeError. A validation rule that crashes throws instead, and stays INTERNAL.
 */
function classifyDocumentError(error: GraphQLError): PublicError {
  if (error.originalError instanceof RangeError)
    return { code: "LIMIT_EXCEEDED", message: DOCUMENT_TOO_DEEP, limit: "depth" };
  if (UPSTREAM.validationAborted.pattern.test(error.message)) {
    return {
      code: "LIMIT_EXCEEDED",
      message: "the document has too many fields or errors to validate; send a smaller one",
      limit: "validation",
    };
  }
  return { code: "BAD_USER_INPUT", message: error.message };
}

export const DOCUMENT_TOO_DEEP = "the document is nested too deeply";

/** Where the error arose: running the operation, or parsing and validating its document. */
export type ErrorOrigin = "execution" | "document";
export type MaskError = (error: GraphQLError, origin?: ErrorOrigin) => GraphQLError;

export interface MaskOptions {
  production: boolean;
  log: Logger;
}

export function makeMaskError({ production, log }: MaskOptions): MaskError {
  return function maskError(error, origin = "execution") {
    const existing = error.extensions?.code;
    if (!error.originalError && isErrorCode(existing)) {
      currentRequest()?.errors.push({ code: existing });
      return error; // already coded where it was raised (limits, an earlier pass)
    }
    let pub = origin === "document" ? classifyDocumentError(error) : classify(error);
    let errorId: string | undefined;
    if (!pub) {
      errorId = randomUUID();
      log.error({ errorId, err: error.originalError ?? error, path: error.path }, "unexpected error");
      pub = { code: "INTERNAL", message: `An internal error occurred; it was logged with id ${errorId}` };
    } else if (pub.code === "UNAVAILABLE" || pub.code === "TIMEOUT") {
      log.warn({ err: error.originalError, code: pub.code, path: error.path }, "request failed");
    }
    const sqlstate = isDatabaseError(error.originalError) ? error.originalError.code : undefined;
    currentRequest()?.errors.push({
      code: pub.code,
      ...(errorId ? { errorId } : {}),
      ...(sqlstate ? { sqlstate } : {}),
    });
    // "Did you mean …?" hints would describe the schema to clients that may not introspect it.
    const message = production ? pub.message.replace(UPSTREAM.didYouMean.pattern, "") : pub.message;
    return new GraphQLError(message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: errorExtensions(pub.code, {
        ...(pub.field ? { field: pub.field } : {}),
        ...(pub.limit ? { limit: pub.limit } : {}),
        ...(pub.retryable ? { retryable: true } : {}),
        ...(pub.currentVersion !== undefined ? { currentVersion: pub.currentVersion } : {}),
        ...(errorId ? { errorId } : {}),
        // Development only: what actually happened, to save a trip to the logs.
        ...(!production && error.originalError && pub.code !== "BAD_USER_INPUT"
          ? { debug: error.originalError.message }
          : {}),
      }),
    });
  };
}
