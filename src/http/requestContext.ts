/**
 * What the server learns about one request while handling it — its id, the
 * caller, the operation, the error codes it answered with — kept in an
 * AsyncLocalStorage so the masker, grafserv middleware and the request log can
 * share it without passing `req` into GraphQL.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";

export interface RequestState {
  id: string;
  sub?: string;
  operationName?: string;
  /** Catalogue codes of the errors in the response, and INTERNAL error ids. */
  errors: Array<{ code: string; errorId?: string }>;
}

const storage = new AsyncLocalStorage<RequestState>();

export const currentRequest = (): RequestState | undefined => storage.getStore();

/** An incoming X-Request-Id is kept when it looks like an id; otherwise a new one is made. */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext() {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.get("x-request-id");
    const state: RequestState = { id: incoming && ACCEPTABLE_ID.test(incoming) ? incoming : randomUUID(), errors: [] };
    res.setHeader("X-Request-Id", state.id);
    storage.run(state, next);
  };
}
