/**
 * The `Idempotency-Key` request header (IETF httpapi draft "The Idempotency-Key
 * HTTP Header Field"), read before GraphQL: a malformed key is 400 here; a valid
 * one from a signed-in caller is kept in the request state, for
 * graphql/idempotency.ts to honour if the operation is a mutation.
 * An anonymous caller's key is ignored: keys are scoped to a user, and anonymous
 * callers cannot write.
 */
import { createHash } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { identityOf } from "../auth/identity";
import { sendError } from "../errors";
import { currentRequest } from "./requestContext";

export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export const MAX_KEY_LENGTH = 255;

/** Printable ASCII, as a structured-field string holds; 1 to 255 characters once unquoted. */
const KEY_CHARACTERS = /^[\x20-\x7E]+$/;
/** The draft's form: an sf-string, `"…"` with `\"` and `\\` as its only escapes. */
const SF_STRING = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"$/;

/** The key the header carries, or why it is refused. Stripe-style bare keys are accepted too. */
export function parseIdempotencyKey(values: string[]): { key: string } | { refusal: string } {
  const [value] = values;
  if (values.length !== 1 || value === undefined)
    return { refusal: `send one ${IDEMPOTENCY_KEY_HEADER} header, not ${values.length}` };
  const raw = value.trim();
  let key = raw;
  if (raw.startsWith('"')) {
    const quoted = SF_STRING.exec(raw);
    if (!quoted) return { refusal: `${IDEMPOTENCY_KEY_HEADER} is not a valid quoted string` };
    key = (quoted[1] ?? "").replace(/\\(["\\])/g, "$1");
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY_CHARACTERS.test(key) || key.trim() !== key) {
    return {
      refusal: `${IDEMPOTENCY_KEY_HEADER} must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters (a UUID is a good choice)`,
    };
  }
  return { key };
}

/**
 * sha256 of what an operation asks for: its document as graphql-js prints it (a persisted
 * document's too, so layout does not matter), the operation name and the variables.
 * Taken from what GraphQL executes, not from the HTTP body, so it is exactly what ran.
 */
export function fingerprintOf(document: string, operationName: string | null | undefined, variables: unknown): string {
  // Absent, null and {} all mean "no variables".
  const asked = { document, operationName: operationName ?? null, variables: variables ?? {} };
  return createHash("sha256").update(canonicalJson(asked)).digest("hex");
}

/**
 * JSON with every object's keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same
 * request. Hand-written (a dozen lines): the bodies are express.json's output, plain JSON values.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

export function idempotencyKey() {
  return (req: Request, res: Response, next: NextFunction) => {
    const values = req.headersDistinct[IDEMPOTENCY_KEY_HEADER.toLowerCase()];
    if (values === undefined) return next();
    const parsed = parseIdempotencyKey(values);
    const state = currentRequest();
    if ("refusal" in parsed) {
      state?.errors.push({ code: "BAD_USER_INPUT" });
      return sendError(res, 400, "BAD_USER_INPUT", parsed.refusal, { field: IDEMPOTENCY_KEY_HEADER });
    }
    const identity = identityOf(req);
    if (identity && state) state.idempotency = { key: parsed.key, sub: identity.sub };
    next();
  };
}
