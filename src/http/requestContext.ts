/**
 * What the server learns about one request while handling it — its id, the
 * caller, the operation, the error codes it answered with — kept in an
 * AsyncLocalStorage so the masker, grafserv middleware and the request log can
 * share it without passing `req` into GraphQL.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { ErrorCode } from "../errors";
import type { RequestTransaction } from "../db/requestTransactions";
import type { IdempotentRequest } from "../graphql/idempotency";

export interface RequestState {
  id: string;
  /** performance.now() when the request arrived. */
  startedAt: number;
  /** The verified caller; never the token. */
  sub?: string;
  operationName?: string;
  /** Why the token was refused, when it was (a TokenError kind). */
  rejection?: string;
  /** Catalogue codes of the errors in the response, with INTERNAL error ids and Postgres SQLSTATEs. */
  errors: Array<{ code: ErrorCode; errorId?: string; sqlstate?: string }>;
  /** Milliseconds spent verifying the token. */
  authMs: number;
  /** Milliseconds inside the request's database transactions, begin to end (db/requestTransactions.ts). */
  dbMs: number;
  /** The request's Idempotency-Key, when a signed-in caller sent a valid one (http/idempotencyKey.ts, graphql/idempotency.ts). */
  idempotency?: IdempotentRequest;
  /**
   * One transaction for the whole operation, when it needs one (a mutation with an
   * Idempotency-Key): every withPgClient call of the request runs in it.
   */
  transaction?: RequestTransaction;
}

const storage = new AsyncLocalStorage<RequestState>();

export const currentRequest = (): RequestState | undefined => storage.getStore();

/** An incoming X-Request-Id is kept when it looks like an id; otherwise a new one is made. */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext() {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.get("x-request-id");
    const state: RequestState = {
      id: incoming && ACCEPTABLE_ID.test(incoming) ? incoming : randomUUID(),
      startedAt: performance.now(),
      errors: [],
      authMs: 0,
      dbMs: 0,
    };
    res.setHeader("X-Request-Id", state.id);
    storage.run(state, next);
  };
}
