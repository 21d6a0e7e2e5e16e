/**
 * The graceful stop, in two phases. Draining: readiness turns 503 while requests
 * are still served, so the load balancer notices and sends no more. Closing: no new
 * connection is accepted, a request still arriving on a kept-alive socket is
 * refused with 503 and `Connection: close`, requests in flight get a grace period,
 * then every socket is closed and what the server holds is released.
 */
import type { Server } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { sendError } from "../errors";

export interface StopOptions {
  /** How long readiness says 503 before the server stops taking connections. */
  drainMs?: number;
  /** How long requests in flight may take after that. */
  graceMs?: number;
}

/** What has to end with the HTTP server: sockets it cannot close itself, and what is released after. */
export interface Stoppable {
  /** Called as closing begins: connections the HTTP server does not track (WebSockets). */
  closeConnections(): void;
  /** Called once every HTTP connection is closed. */
  release(): Promise<void>;
}

export function makeShutdown(server: Server) {
  let draining = false; // not ready: the load balancer should stop sending requests
  let closing = false; // refusing: requests still arriving on kept-alive sockets get 503

  return {
    /** For the readiness probe. */
    draining: () => draining,

    /** Middleware: once closing, every request is refused and its connection not kept. */
    refuseWhileClosing(_req: Request, res: Response, next: NextFunction): void {
      if (!closing) return next();
      res.setHeader("Connection", "close");
      sendError(res, 503, "UNAVAILABLE", "the server is shutting down; retry");
    },

    async stop({ drainMs = 0, graceMs = 0 }: StopOptions, stoppable: Stoppable): Promise<void> {
      draining = true;
      await new Promise((resolve) => setTimeout(resolve, drainMs));
      closing = true;
      stoppable.closeConnections();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([closed, grace]);
      server.closeAllConnections(); // whatever is still open after the grace period
      await closed;
      await stoppable.release();
    },
  };
}
