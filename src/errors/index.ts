/**
 * The error catalogue (docs/errors.md): every `extensions.code` a client can see,
 * and the one way to build the `{ errors: [...] }` envelope around it. Clients
 * branch on the code, so a code is a type: a misspelt one does not compile.
 * GraphQL errors are mapped onto it by the masker (./mask.ts); errors decided
 * before GraphQL (HTTP middleware) are sent with sendError.
 */
import type { Response } from "express";

interface CodeRule {
  /** The same request may succeed if sent again: `retryable: true` goes with every error of this code. */
  retryable?: true;
  /** Sent as Retry-After with the code's HTTP answers. */
  retryAfterSeconds?: number;
}

const CATALOGUE = {
  UNAUTHENTICATED: {},
  FORBIDDEN: {},
  NOT_FOUND: {},
  VALIDATION_FAILED: {},
  /** Retryable only when it was a collision with a concurrent change; the masker says so then. */
  CONFLICT: {},
  BAD_USER_INPUT: {},
  LIMIT_EXCEEDED: {},
  /** Retry-After is the rate limiter's own, counted to the end of the window (http/protection.ts). */
  RATE_LIMITED: { retryable: true },
  UNTRUSTED_DOCUMENT: {},
  /** An Idempotency-Key sent again with a different operation or variables (HTTP 422). */
  IDEMPOTENCY_KEY_REUSED: {},
  /** An Idempotency-Key whose first request is still running (HTTP 409); its response comes on a retry. */
  IDEMPOTENCY_KEY_IN_USE: { retryable: true, retryAfterSeconds: 1 },
  TIMEOUT: { retryable: true },
  UNAVAILABLE: { retryable: true, retryAfterSeconds: 5 },
  INTERNAL: {},
} as const satisfies Record<string, CodeRule>;

export type ErrorCode = keyof typeof CATALOGUE;
const RULES: Record<ErrorCode, CodeRule> = CATALOGUE;

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === "string" && Object.hasOwn(CATALOGUE, value);

/** How long clients are asked to wait before retrying this code, if the catalogue says. */
export const retryAfterSeconds = (code: ErrorCode): number | undefined => RULES[code].retryAfterSeconds;

/** What an error may carry besides its code (docs/errors.md, "extra fields"); a type, so it fits GraphQLError's extensions. */
export type ErrorExtras = {
  /** The input field at fault (VALIDATION_FAILED), or the header (BAD_USER_INPUT for a malformed Idempotency-Key). */
  field?: string;
  /** The limit that was exceeded (LIMIT_EXCEEDED). */
  limit?: string;
  /** Why a token was refused (UNAUTHENTICATED) or keys are missing. */
  reason?: string;
  /** Where an INTERNAL error is in the server log. */
  errorId?: string;
  /** For a code that is retryable only sometimes (CONFLICT). */
  retryable?: true;
  /** The row's version now, when a write sent an outdated `expectedVersion` (CONFLICT). */
  currentVersion?: number;
  /** Development only: the original message. */
  debug?: string;
};

export type ErrorExtensions = { code: ErrorCode } & ErrorExtras;

export function errorExtensions(code: ErrorCode, extra: ErrorExtras = {}): ErrorExtensions {
  return { code, ...(RULES[code].retryable ? { retryable: true } : {}), ...extra };
}

/** The response body for one error. */
export function errorBody(code: ErrorCode, message: string, extra?: ErrorExtras) {
  return { errors: [{ message, extensions: errorExtensions(code, extra) }] };
}

/** Answers an HTTP request with one error, and Retry-After where the catalogue asks for it. */
export function sendError(res: Response, status: number, code: ErrorCode, message: string, extra?: ErrorExtras): void {
  const retryAfter = retryAfterSeconds(code);
  if (retryAfter !== undefined) res.setHeader("Retry-After", String(retryAfter));
  res.status(status).json(errorBody(code, message, extra));
}

/** An error our own code raises with a catalogue code; its message is written for clients. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    /** Extra fields the client may see, e.g. CONFLICT's `currentVersion`. */
    readonly extras: Pick<ErrorExtras, "currentVersion"> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}
