/**
 * Last touches to every GraphQL response, applied where grafserv hands it to
 * the HTTP layer:
 *  - one whose errors include UNAVAILABLE (the database could not be reached, or
 *    no pool connection came free in time) becomes HTTP 503 with Retry-After, as
 *    PostgREST does, so load balancers and clients back off and retry;
 *  - one whose errors include RATE_LIMITED (the caller's share of the pool stayed
 *    full, db/fairShare.ts) becomes HTTP 429 with Retry-After;
 *  - a result (or subscription event) larger than the response cap is replaced by
 *    LIMIT_EXCEEDED (`limit: "responseBytes"`): measured on grafast's result before
 *    grafserv serialises it, stopping at the cap, so an oversized body is never built;
 *  - one that grafserv answered itself, outside GraphQL (a refused media type,
 *    a body of the wrong shape, a GET, a refused document), gets the catalogue
 *    code for its status (grafserv.ts) and loses the `statusCode` grafserv puts
 *    in `extensions`; a GET also gets `Allow: POST`.
 */
import { isAsyncIterable } from "postgraphile/grafast";
import type { ExecutionResult } from "postgraphile/graphql";
import { SHARE_RETRY_AFTER_SECONDS } from "../db/fairShare";
import { retryAfterSeconds } from "../errors";
import type { MaskError } from "../errors/mask";
import { currentRequest } from "../http/requestContext";
import { codeGrafservErrors } from "./grafserv";
import { limitExceeded } from "./limits";

export interface ResponseOptions {
  /** Largest response or subscription event, in bytes of JSON. */
  maxResponseBytes: number;
}

export function makeResponsePlugin(maskError: MaskError, { maxResponseBytes }: ResponseOptions): GraphileConfig.Plugin {
  const cap = <R extends { data?: unknown }>(result: R): R | ExecutionResult =>
    result.data != null && jsonBytesBeyond(result.data, maxResponseBytes)
      ? { errors: [responseTooLarge(maxResponseBytes)] }
      : result;
  return {
    name: "TasksResponsePlugin",
    version: "1.0.0",
    grafast: {
      middleware: {
        async execute(next) {
          const result = await next();
          return isAsyncIterable(result) ? result : cap(result);
        },
        async subscribe(next) {
          const result = await next();
          return isAsyncIterable(result) ? mapEvents(result, cap) : cap(result);
        },
      },
    },
    grafserv: {
      middleware: {
        async processRequest(next) {
          const result = await next();
          if (!result) return result;
          if (currentRequest()?.errors.some((e) => e.code === "UNAVAILABLE")) {
            result.statusCode = 503;
            result.headers["retry-after"] = String(retryAfterSeconds("UNAVAILABLE"));
          } else if (currentRequest()?.errors.some((e) => e.code === "RATE_LIMITED")) {
            result.statusCode = 429;
            result.headers["retry-after"] = String(SHARE_RETRY_AFTER_SECONDS);
          } else if (result.statusCode >= 400 && result.type === "buffer") {
            const coded = codeGrafservErrors(result.statusCode, result.buffer, maskError);
            if (coded) replaceBody(result, coded);
            if (result.statusCode === 405) result.headers["allow"] = "POST"; // no GraphQL over GET
          }
          return result;
        },
      },
    },
  };
}

function replaceBody(result: { buffer: Buffer; headers: Record<string, string> }, body: object): void {
  result.buffer = Buffer.from(JSON.stringify(body));
  result.headers["content-length"] = String(result.buffer.length);
}

const responseTooLarge = (maxBytes: number) =>
  limitExceeded(
    "responseBytes",
    `the response would be larger than ${maxBytes} bytes; ask for fewer rows or fields, or page through them`,
  );

/**
 * Whether `value` as JSON would take more than `maxBytes`, counting as it walks and
 * stopping as soon as it does: exact for JSON.stringify's output, except escape
 * sequences (a byte or a few more per quote, backslash or control character).
 */
export function jsonBytesBeyond(value: unknown, maxBytes: number): boolean {
  let bytes = 0;
  // false once over the cap: every caller returns at once.
  const add = (item: unknown): boolean => {
    if (typeof item === "string") bytes += Buffer.byteLength(item) + 2;
    else if (item === null || item === undefined) bytes += 4;
    else if (typeof item === "number" || typeof item === "boolean") bytes += String(item).length;
    else if (Array.isArray(item)) {
      bytes += 1 + Math.max(item.length, 1); // brackets and commas
      for (const element of item) if (!add(element)) return false;
    } else if (typeof item === "object") {
      bytes += 1; // braces and commas: one per key, or the closing brace alone
      let keys = 0;
      for (const key in item) {
        keys += 1;
        bytes += Buffer.byteLength(key) + 4; // quotes, colon, comma or closing brace
        if (!add((item as Record<string, unknown>)[key])) return false;
      }
      if (keys === 0) bytes += 1;
    }
    return bytes <= maxBytes;
  };
  return !add(value);
}

/**
 * `events` with each one mapped. Not an async generator function: one of those,
 * parked awaiting the next event, would hold a client's unsubscribe (`return()`)
 * until that event came.
 */
function mapEvents<T, U>(events: AsyncGenerator<T, void, void>, map: (event: T) => U): AsyncGenerator<U, void, void> {
  // Asserted, not annotated: whether AsyncGenerator has [Symbol.asyncDispose] depends on the TypeScript lib.
  const mapped = {
    async next() {
      const step = await events.next();
      return step.done ? step : { done: false, value: map(step.value) };
    },
    // Settled at once, as grafserv's own mapping does: the source's clean-up need not be awaited.
    async return() {
      events.return().catch(() => {});
      return { done: true, value: undefined };
    },
    async throw(error) {
      events.throw(error).catch(() => {});
      throw error;
    },
    [Symbol.asyncIterator]: () => mapped,
    [Symbol.asyncDispose]: async () => void (await mapped.return()),
  } as AsyncGenerator<U, void, void>;
  return mapped;
}
