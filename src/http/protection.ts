/**
 * Standard HTTP protections: security headers (helmet), CORS by allow-list, and
 * request rate limits — per user (by the verified `sub`) and per IP address for
 * anonymous requests — answered 429 in the catalogue's shape, with the limiter's
 * own Retry-After (the seconds left in the window).
 * Counts are per instance (in memory); behind several instances each counts on its own.
 */
import cors from "cors";
import type { Request, Response } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import helmet from "helmet";
import { identityOf } from "../auth/identity";
import type { AppConfig } from "../config";
import { sendError } from "../errors";

export function securityHeaders(production: boolean) {
  // GraphiQL (development only) needs inline scripts; a JSON API needs no CSP exceptions.
  return helmet({ contentSecurityPolicy: production ? undefined : false, crossOriginEmbedderPolicy: false });
}

export function corsPolicy(origins: AppConfig["corsOrigins"]) {
  return cors({
    origin: origins === undefined ? false : origins === "reflect" ? true : origins,
    methods: ["GET", "POST", "OPTIONS"],
    allowedHeaders: ["Authorization", "Content-Type", "Accept", "X-Request-Id", "Idempotency-Key"],
    exposedHeaders: ["X-Request-Id", "Retry-After", "Server-Timing", "Idempotent-Replayed"],
    maxAge: 600,
  });
}

export function rateLimits({ userPerMinute, anonymousPerMinute }: AppConfig["rateLimits"]) {
  return rateLimit({
    windowMs: 60_000,
    limit: (req: Request) => (identityOf(req) ? userPerMinute : anonymousPerMinute),
    keyGenerator: (req: Request) => {
      const identity = identityOf(req);
      return identity ? `sub:${identity.sub}` : `ip:${ipKeyGenerator(req.ip ?? "unknown")}`;
    },
    standardHeaders: "draft-8",
    legacyHeaders: false,
    handler: (_req: Request, res: Response) => sendError(res, 429, "RATE_LIMITED", "too many requests; retry later"),
  });
}
