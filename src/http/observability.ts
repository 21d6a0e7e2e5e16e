/**
 * What operators see: one JSON log line per request, Prometheus metrics at
 * /metrics, and optionally a Server-Timing header. All of it reads the request
 * state (http/requestContext.ts) that authentication, the masker and the request
 * transactions fill in.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import onHeaders from "on-headers";
import type { Pool } from "pg";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "../logger";
import { currentRequest, type RequestState } from "./requestContext";

/** Operation names come from clients: only sane ones become metric labels, and only so many. */
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_OPERATION_LABELS = 200;
const NAMED_OPERATION = /^\s*(?:query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)/;

export interface Observability {
  /** Mount first, right after requestContext(). */
  middleware: (req: Request, res: Response, next: NextFunction) => void;
  /** Mount after the body is parsed: learns the operation's name. */
  operationName: (req: Request, res: Response, next: NextFunction) => void;
  metrics: (req: Request, res: Response) => Promise<void>;
}

export function makeObservability({
  pool,
  log,
  serverTiming,
}: {
  pool: Pool;
  log: Logger;
  serverTiming: boolean;
}): Observability {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labels = ["operation", "code"] as const;
  const requests = new Counter({
    name: "tasks_api_requests_total",
    help: "HTTP requests by GraphQL operation and result code (OK or the first error's catalogue code)",
    labelNames: labels,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "tasks_api_request_duration_seconds",
    help: "Request latency by GraphQL operation and result code",
    labelNames: labels,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const rejections = new Counter({
    name: "tasks_api_token_rejections_total",
    help: "Requests refused with 401, by reason",
    labelNames: ["reason"],
    registers: [registry],
  });
  const databaseErrors = new Counter({
    name: "tasks_api_database_errors_total",
    help: "Postgres errors in responses, by SQLSTATE class (first two characters)",
    labelNames: ["class"],
    registers: [registry],
  });
  const checkouts = new Counter({
    name: "tasks_api_pool_checkouts_total",
    help: "Connections handed out by the API's pool (a refused token must never take one)",
    registers: [registry],
  });
  pool.on("acquire", () => checkouts.inc());
  new Gauge({
    name: "tasks_api_pool_connections",
    help: "Connections of the API's pool: total, idle, and requests waiting for one",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.set({ state: "total" }, pool.totalCount);
      this.set({ state: "idle" }, pool.idleCount);
      this.set({ state: "waiting" }, pool.waitingCount);
    },
  });

  const knownOperations = new Set<string>();
  const operationLabel = (state: RequestState, path: string): string => {
    if (path !== "/graphql") return path.startsWith("/health/") ? path : "other";
    const name = state.operationName;
    if (!name || !OPERATION_NAME.test(name)) return "anonymous";
    if (!knownOperations.has(name) && knownOperations.size >= MAX_OPERATION_LABELS) return "other";
    knownOperations.add(name);
    return name;
  };

  const finish = (req: IncomingMessage, res: ServerResponse, state: RequestState) => {
    const ms = performance.now() - state.startedAt;
    const code = state.rejection
      ? "UNAUTHENTICATED"
      : (state.errors[0]?.code ?? (res.statusCode < 400 ? "OK" : String(res.statusCode)));
    const path = (req.url ?? "").split("?")[0] ?? "";
    const operation = operationLabel(state, path);
    requests.inc({ operation, code });
    duration.observe({ operation, code }, ms / 1000);
    if (state.rejection) rejections.inc({ reason: state.rejection });
    for (const error of state.errors) if (error.sqlstate) databaseErrors.inc({ class: error.sqlstate.slice(0, 2) });
    const line = {
      reqId: state.id,
      method: req.method,
      path,
      status: res.statusCode,
      durationMs: Math.round(ms * 10) / 10,
      ...(state.sub ? { sub: state.sub } : {}),
      ...(state.operationName ? { operation: state.operationName } : {}),
      ...(state.rejection ? { rejection: state.rejection } : {}),
      ...(state.errors.length ? { errors: state.errors } : {}),
    };
    if (path.startsWith("/health/")) log.debug(line, "request");
    else log.info(line, "request");
  };

  return {
    middleware(req, res, next) {
      const state = currentRequest();
      if (!state) return next();
      if (serverTiming) {
        // Added just before the head is written, when the numbers are known.
        onHeaders(res, () => {
          const total = performance.now() - state.startedAt;
          res.setHeader(
            "Server-Timing",
            `auth;dur=${state.authMs.toFixed(1)}, db;dur=${state.dbMs.toFixed(1)}, total;dur=${total.toFixed(1)}`,
          );
        });
      }
      res.once("finish", () => finish(req, res, state));
      next();
    },
    operationName(req, _res, next) {
      const state = currentRequest();
      const body = req.body as { operationName?: unknown; query?: unknown } | undefined;
      if (state && body) {
        if (typeof body.operationName === "string") state.operationName = body.operationName;
        else if (typeof body.query === "string") state.operationName = NAMED_OPERATION.exec(body.query)?.[1];
      }
      next();
    },
    async metrics(_req, res) {
      res.setHeader("Content-Type", registry.contentType);
      res.end(await registry.metrics());
    },
  };
}
