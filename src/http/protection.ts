/**
 * Standard HTTP protections: security headers (helmet), CORS by allow-list, and
 * request rate limits — per user (by the verified `sub`) and per IP address for
 * anonymous requests — answered 429 with Retry-After in the catalogue's shape.
 * Counts are per instance (in memory); behind several instances each counts on its own.
 */
import cors from "cors";
import type { Request, Response } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import helmet from "helmet";
import { identityOf } from "../auth/identity";
import type { AppConfig } from "../config";

export function securityHeaders(production: boolean) {
  // GraphiQL (development only) needs inline scripts; a JSON API needs no CSP exceptions.
  return helmet({ contentSecurityPolicy: production ? undefined : false, crossOriginEmbedderPolicy: false });
}

export function corsPolicy(origins: AppConfig["corsOrigins"]) {
  return cors({
    origin: origins === undefined ? false : origins === "reflect" ? true : origins,
    methods: ["GET", "POST", "OPTIONS"],
    allowedHeaders: ["Authorization", "Content-Type", "Accept", "X-Request-Id"],
    exposedHeaders: ["X-Request-Id", "Retry-After", "Server-Timing"],
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
    handler: (req: Request, res: Response) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 60;
      res.setHeader("Retry-After", String(seconds));
      res.status(429).json({
        errors: [{ message: "too many requests; retry later", extensions: { code: "RATE_LIMITED", retryable: true } }],
      });
    },
  });
}
