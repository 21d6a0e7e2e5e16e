/**
 * The error catalogue and the masker that maps every error onto it.
 *
 * Clients see a stable `extensions.code` (docs/errors.md) and a message written
 * here, never the database's own text: no SQL, table, constraint or column names
 * they did not send, no stack, no host names. Anything unexpected becomes INTERNAL
 * with an `errorId` that is also in the server log next to the full error.
 */
import { randomUUID } from "node:crypto";
import { isSafeError } from "postgraphile/grafast";
import { GraphQLError } from "postgraphile/graphql";
import { currentRequest } from "./http/requestContext";
import type { Logger } from "./logger";

export const ERROR_CODES = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "VALIDATION_FAILED",
  "CONFLICT",
  "BAD_USER_INPUT",
  "LIMIT_EXCEEDED",
  "RATE_LIMITED",
  "UNTRUSTED_DOCUMENT",
  "TIMEOUT",
  "UNAVAILABLE",
  "INTERNAL",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** How long clients are asked to wait before retrying an UNAVAILABLE (503) answer. */
export const RETRY_AFTER_SECONDS = 5;

/** An error our own code raises with a catalogue code; its message is written for clients. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface PublicError {
  code: ErrorCode;
  message: string;
  /** The input field at fault (VALIDATION_FAILED). */
  field?: string;
  /** True when the same request may succeed if sent again (TIMEOUT, UNAVAILABLE, some CONFLICTs). */
  retryable?: boolean;
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
      return { code: "TIMEOUT", message: "the request took too long and was cancelled", retryable: true };
  }
  if (code.startsWith("22"))
    return { code: "BAD_USER_INPUT", message: "a value has the wrong format or is out of range" };
  // connection exceptions, shutdowns, too many connections, out of resources
  if (/^(08|53|57P0)/.test(code)) {
    return { code: "UNAVAILABLE", message: "the database is unavailable; retry shortly", retryable: true };
  }
  return undefined;
}

const NETWORK_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"]);

function isConnectionFailure(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    (typeof code === "string" && NETWORK_ERRORS.has(code)) ||
    /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(
      error.message,
    )
  );
}

/** PostGraphile's words for "the row you named is not there for you": the same whether it never existed or is someone else's. */
const NOTHING_MATCHED = /^No values were (updated|deleted) in collection '(\w+)'/;

/** connection-filter refuses `{}` and `null` operands with plain Errors (its TODO: "mark this error as safe"). */
const FILTER_INPUT = /^(Empty objects|Null literals) are forbidden in filter argument input\.$/;

function classify(error: GraphQLError, nested = false): PublicError | undefined {
  const original = error.originalError;
  if (!original) {
    // Errors about the request itself point at it (syntax, validation) or name its
    // variable (coercion). One that does neither is grafserv re-wrapping a thrown
    // error's bare message (`new GraphQLError(e.message)`): that text is not ours to show.
    // (A GraphQLError inside another borrows the outer one's position.)
    if (!nested && !error.positions?.length && !error.path && !/^Variable "\$/.test(error.message)) return undefined;
    return { code: "BAD_USER_INPUT", message: error.message };
  }
  if (original instanceof GraphQLError) return classify(original, true);
  if (isSafeError(original)) {
    // Grafast's "safe to show" errors, e.g. "Attempted to update a record, but no new values were specified."
    const status = Number(original.extensions?.statusCode ?? 400);
    return status >= 500 ? undefined : { code: "BAD_USER_INPUT", message: original.message };
  }
  if (original instanceof ApiError) {
    return { code: original.code, message: original.message, ...(original.field ? { field: original.field } : {}) };
  }
  if (isDatabaseError(original)) return fromDatabaseError(original);
  if (FILTER_INPUT.test(original.message)) return { code: "BAD_USER_INPUT", message: original.message };
  const notFound = NOTHING_MATCHED.exec(original.message);
  if (notFound) {
    // Same wording as ApiError("NOT_FOUND") from graphql/notFound.ts for updates.
    return { code: "NOT_FOUND", message: `no ${notFound[2]!.replace(/s$/, "")} with this id was found` };
  }
  if (isConnectionFailure(original)) {
    return { code: "UNAVAILABLE", message: "the database is unavailable; retry shortly", retryable: true };
  }
  return undefined;
}

export interface MaskOptions {
  production: boolean;
  log: Logger;
}

/** "Did you mean …?" hints would describe the schema to clients that may not introspect it. */
const SUGGESTION = / ?Did you mean .*\?$/;

export function makeMaskError({ production, log }: MaskOptions): (error: GraphQLError) => GraphQLError {
  return function maskError(error) {
    const existing = error.extensions?.code;
    if (!error.originalError && typeof existing === "string" && (ERROR_CODES as readonly string[]).includes(existing)) {
      currentRequest()?.errors.push({ code: existing });
      return error; // already coded where it was raised (limits, an earlier pass)
    }
    let pub = classify(error);
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
    const message = production ? pub.message.replace(SUGGESTION, "") : pub.message;
    return new GraphQLError(message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: {
        code: pub.code,
        ...(pub.field ? { field: pub.field } : {}),
        ...(pub.retryable ? { retryable: true } : {}),
        ...(errorId ? { errorId } : {}),
        // Development only: what actually happened, to save a trip to the logs.
        ...(!production && error.originalError && pub.code !== "BAD_USER_INPUT"
          ? { debug: error.originalError.message }
          : {}),
      },
    });
  };
}
