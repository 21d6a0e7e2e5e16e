/**
 * Express middleware in front of GraphQL: decides who the caller is before any
 * database work. No header → anonymous. A bad header or token → 401 here, so a
 * rejected request never takes a pool connection.
 */
import type { IncomingMessage } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { sendError } from "../errors";
import { currentRequest } from "../http/requestContext";
import type { Logger } from "../logger";
import { bearerToken } from "./bearer";
import { setIdentity } from "./identity";
import { TokenError, type TokenVerifier } from "./jwt";
import { KeysUnavailableError } from "./keys";
import { RevocationsUnavailableError } from "./revocation";

export function authenticate(verifier: TokenVerifier, log: Logger) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const headers = authorizationHeaders(req);
    if (headers.length === 0) {
      setIdentity(req, null);
      return next();
    }
    const state = currentRequest();
    const started = performance.now();
    try {
      if (headers.length > 1) throw new TokenError("header", "send exactly one Authorization header");
      const claims = await verifier.verify(bearerToken(headers[0]!));
      setIdentity(req, claims);
      if (state) state.sub = claims.sub;
      next();
    } catch (error) {
      if (error instanceof TokenError) {
        if (state) state.rejection = error.kind;
        return reject(res, error.reason);
      }
      if (error instanceof KeysUnavailableError) {
        log.error({ err: error }, "cannot verify tokens: no keys");
        const reason = "the identity provider's keys are unavailable; retry shortly";
        return sendError(res, 503, "UNAVAILABLE", reason, { reason });
      }
      if (error instanceof RevocationsUnavailableError) {
        log.error({ err: error }, "cannot check token revocations");
        const reason = "cannot check whether the token was revoked right now; retry shortly";
        return sendError(res, 503, "UNAVAILABLE", reason, { reason });
      }
      next(error);
    } finally {
      if (state) state.authMs = performance.now() - started;
    }
  };
}

/** Node folds repeated Authorization headers into one; rawHeaders still shows them all. */
function authorizationHeaders(req: IncomingMessage): string[] {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === "authorization") values.push(req.rawHeaders[i + 1]!);
  }
  return values;
}

function reject(res: Response, reason: string): void {
  res.setHeader("WWW-Authenticate", `Bearer error="invalid_token", error_description="${reason.replace(/"/g, "'")}"`);
  sendError(res, 401, "UNAUTHENTICATED", `Invalid token: ${reason}`, { reason });
}
