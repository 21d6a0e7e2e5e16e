/**
 * Idempotent mutations: a mutation sent with an `Idempotency-Key` (read by
 * http/idempotencyKey.ts) runs in ONE transaction held by the request
 * (db/requestTransactions.ts). Before it runs, the key is claimed in that
 * transaction; after grafserv has built the response, and before it is sent, the
 * response (status and exact body) is recorded with the key and the transaction
 * commits — the writes and the key together, or neither. A later request with the
 * same key from the same user gets:
 *  - the recorded response again, marked `Idempotent-Replayed: true`, when it asks
 *    for the same operation with the same variables;
 *  - 422 IDEMPOTENCY_KEY_REUSED when it asks for something else;
 *  - 409 IDEMPOTENCY_KEY_IN_USE (retryable, Retry-After: 1) while the first is still
 *    running — no waiting: a waiting duplicate would hold a pool connection.
 * A response that says "try again" (HTTP 5xx or 429, or any error that is retryable or
 * INTERNAL) is not recorded: its transaction rolls back, so nothing it did persists, and
 * its `data` is withheld, since none of it was kept.
 * Keys on queries are ignored (a query is idempotent already).
 */
import type { Result } from "postgraphile/grafserv";
import { getOperationAST, GraphQLError, print } from "postgraphile/graphql";
import type { FairShare } from "../db/fairShare";
import { LOCK_KEY, LOOK_UP_KEY, RECORD_KEY, type StoredResponse } from "../db/idempotency";
import { RequestTransaction } from "../db/requestTransactions";
import { errorBody, retryAfterSeconds, type ErrorCode } from "../errors";
import { fingerprintOf } from "../http/idempotencyKey";
import { currentRequest } from "../http/requestContext";
import type { Logger } from "../logger";

export const REPLAYED_HEADER = "Idempotent-Replayed";

export interface IdempotentRequest {
  key: string;
  sub: string;
  /** sha256 of the document, the operation name and the canonical variables (set for a mutation). */
  fingerprint?: string;
  /** What the claim found; unset until a mutation claimed the key. */
  outcome?: Outcome;
}

type Outcome = { kind: "fresh" } | { kind: "replay"; stored: StoredResponse } | { kind: "reused" } | { kind: "inUse" };

type GrafservResult = Result;

interface OperationContext {
  fairShareKey: string;
  pgSettings: Record<string, string>;
  withPgClient: Grafast.Context["withPgClient"];
}

const REFUSALS: Record<"reused" | "inUse", { status: number; code: ErrorCode; message: string }> = {
  reused: {
    status: 422,
    code: "IDEMPOTENCY_KEY_REUSED",
    message: "this Idempotency-Key was already used for a different operation or different variables; use a new key",
  },
  inUse: {
    status: 409,
    code: "IDEMPOTENCY_KEY_IN_USE",
    message: "a request with this Idempotency-Key is still running; retry shortly to get its response",
  },
};

export function makeIdempotencyPlugin({ share, log }: { share: FairShare; log: Logger }): GraphileConfig.Plugin {
  return {
    name: "TasksIdempotencyPlugin",
    version: "1.0.0",
    grafast: {
      middleware: {
        async execute(next, { args }) {
          const state = currentRequest();
          const request = state?.idempotency;
          if (!state || !request) return next();
          if (getOperationAST(args.document, args.operationName)?.operation !== "mutation") return next();
          const context = args.contextValue as unknown as OperationContext;
          const fingerprint = fingerprintOf(print(args.document), args.operationName, args.variableValues);
          request.fingerprint = fingerprint;
          // From here every withPgClient call of this request runs in one transaction, ended in processRequest.
          state.transaction = new RequestTransaction(() => share.hold(context.fairShareKey));
          try {
            request.outcome = await context.withPgClient(context.pgSettings, async (client): Promise<Outcome> => {
              const lock = await client.query<{ locked: boolean }>({ text: LOCK_KEY, values: [request.key] });
              if (!lock.rows[0]?.locked) return { kind: "inUse" };
              const { rows } = await client.query<StoredResponse>({ text: LOOK_UP_KEY, values: [request.key] });
              const stored = rows[0];
              if (!stored) return { kind: "fresh" };
              return stored.fingerprint === fingerprint ? { kind: "replay", stored } : { kind: "reused" };
            });
          } catch (error) {
            // No connection, or the caller's share is full: the masker gives it its code (UNAVAILABLE, RATE_LIMITED).
            return { errors: [new GraphQLError((error as Error).message, { originalError: error as Error })] };
          }
          // Anything but a first run is answered in processRequest, without executing.
          return request.outcome?.kind === "fresh" ? next() : { data: null };
        },
      },
    },
    grafserv: {
      middleware: {
        async processRequest(next) {
          const state = currentRequest();
          let result: GrafservResult | null;
          try {
            result = (await next()) as GrafservResult | null;
          } catch (error) {
            await state?.transaction?.end(false).catch(() => {});
            throw error;
          }
          const transaction = state?.transaction;
          const outcome = state?.idempotency?.outcome;
          if (!transaction || !state.idempotency?.fingerprint || !result) {
            await transaction?.end(false);
            return result;
          }
          // Replays and refusals changed nothing: their transaction only held the claim.
          if (outcome?.kind !== "fresh") {
            await transaction.end(false);
            if (outcome?.kind === "replay") {
              return withBody(result, outcome.stored.status, outcome.stored.body, {
                [REPLAYED_HEADER.toLowerCase()]: "true",
              });
            }
            if (outcome) {
              const refusal = REFUSALS[outcome.kind];
              state.errors.push({ code: refusal.code });
              const retryAfter = retryAfterSeconds(refusal.code);
              return withBody(
                result,
                refusal.status,
                JSON.stringify(errorBody(refusal.code, refusal.message)),
                retryAfter === undefined ? {} : { "retry-after": String(retryAfter) },
              );
            }
            return result; // the claim itself failed; its errors are the response
          }
          const body = bodyText(result);
          if (body === undefined || !recordable(result.statusCode, body)) {
            await transaction.end(false);
            return body === undefined ? result : withBody(result, result.statusCode, withoutData(body));
          }
          try {
            const { key, fingerprint } = state.idempotency;
            await transaction.query(RECORD_KEY, [key, fingerprint, result.statusCode, body]);
            await transaction.end(true);
            return result;
          } catch (error) {
            await transaction.end(false).catch(() => {});
            // Nothing was kept; the client may retry with the same key and the mutation runs again.
            log.warn({ err: error, requestId: state.id }, "an idempotent mutation could not be committed");
            state.errors.push({ code: "UNAVAILABLE" });
            return withBody(
              result,
              503,
              JSON.stringify(
                errorBody("UNAVAILABLE", "the change could not be saved; retry with the same Idempotency-Key"),
              ),
              { "retry-after": String(retryAfterSeconds("UNAVAILABLE")) },
            );
          }
        },
      },
    },
  };
}

/** The body grafserv is about to send, as text; undefined for a streamed result (not recorded). */
function bodyText(result: GrafservResult): string | undefined {
  if ("buffer" in result) return result.buffer.toString("utf8");
  if ("json" in result) return JSON.stringify(result.json);
  return undefined;
}

/** Whether a response is final: not one the client is told to retry (5xx, 429, or a retryable or INTERNAL error). */
function recordable(status: number, body: string): boolean {
  if (status >= 500 || status === 429) return false;
  const parsed = parseJson(body) as { errors?: Array<{ extensions?: { code?: string; retryable?: boolean } }> };
  if (!parsed) return false;
  return !(parsed.errors ?? []).some((e) => e.extensions?.retryable === true || e.extensions?.code === "INTERNAL");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not a GraphQL body
  }
}

/** The body with `data` null: what a rolled-back mutation may still say is its errors. */
function withoutData(body: string): string {
  const parsed = parseJson(body) as { data?: unknown } | undefined;
  return parsed?.data == null ? body : JSON.stringify({ ...parsed, data: null });
}

function withBody(result: GrafservResult, statusCode: number, body: string, extraHeaders: Record<string, string> = {}) {
  const buffer = Buffer.from(body, "utf8");
  const headers: Record<string, string> = {
    ...result.headers,
    ...extraHeaders,
    "content-length": String(buffer.length),
  };
  delete headers["Content-Length"];
  return { type: "buffer" as const, statusCode, headers, buffer };
}
