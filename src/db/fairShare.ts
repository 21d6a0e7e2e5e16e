/**
 * A fair share of the pool per caller: one key (a verified `sub`, or an anonymous
 * caller's address) may hold at most `perKey` database connections at once. Its
 * further operations wait in line, briefly, then are refused with RATE_LIMITED —
 * so one caller's load can fill its own share, never the whole pool, and other
 * callers do not queue behind it for a connection (503).
 *
 * Hand-written (a keyed counting semaphore, ~60 lines): p-limit and p-queue limit
 * one queue without keys and queue without a deadline; what is needed here is a
 * refusal after a bounded wait and no state kept for idle keys.
 *
 * Applied where an operation's context is built (graphile.config.ts), by wrapping
 * the context's withPgClient with the caller's key: the pool adaptor below it
 * (requestTransactions.ts) sees only pgSettings, which hold no client address.
 */
import type { IncomingMessage } from "node:http";
import { ipKeyGenerator } from "express-rate-limit";
import type { Identity } from "../auth/identity";
import { ApiError } from "../errors";
import { currentRequest } from "../http/requestContext";

/** Sent as Retry-After with a refusal: a share frees up as soon as one of the caller's statements ends. */
export const SHARE_RETRY_AFTER_SECONDS = 1;

export interface FairShareOptions {
  /** Connections one key may hold at once. */
  perKey: number;
  /** Longest wait for a free place in the key's share, in milliseconds; then RATE_LIMITED. */
  waitMs: number;
  /** Operations of one key that may wait at once; more are refused without waiting. */
  maxWaiting: number;
}

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}

interface Share {
  holding: number;
  waiting: Waiter[];
}

export class ShareExceededError extends ApiError {
  constructor() {
    super("RATE_LIMITED", "too many of your operations are using the database at once; retry shortly");
  }
}

export interface FairShare {
  /** Runs `operation` holding one place in `key`'s share; throws ShareExceededError when none comes free in time. */
  run<T>(key: string, operation: () => Promise<T>): Promise<T>;
  /** Takes one place in `key`'s share until the returned function is called (a request-held transaction). */
  hold(key: string): Promise<() => void>;
  /** Operations refused so far (for metrics). */
  refusals(): number;
  /** Keys with an operation holding or waiting; for tests: idle keys keep no state. */
  activeKeys(): number;
}

export function makeFairShare({ perKey, waitMs, maxWaiting }: FairShareOptions): FairShare {
  const shares = new Map<string, Share>();
  let refused = 0;

  const refuse = (): never => {
    refused += 1;
    throw new ShareExceededError();
  };

  async function acquire(key: string): Promise<void> {
    let share = shares.get(key);
    if (!share) shares.set(key, (share = { holding: 0, waiting: [] }));
    if (share.holding < perKey) {
      share.holding += 1;
      return;
    }
    if (share.waiting.length >= maxWaiting) refuse();
    const queue = share.waiting;
    const granted = await new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        grant: () => resolve(true),
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(waiter), 1);
          resolve(false);
        }, waitMs),
      };
      queue.push(waiter);
    });
    if (!granted) refuse();
  }

  function release(key: string): void {
    const share = shares.get(key)!;
    const next = share.waiting.shift();
    if (next) {
      // The place passes straight to the next in line: `holding` stays as it is.
      clearTimeout(next.timer);
      next.grant();
    } else if (--share.holding === 0) {
      shares.delete(key);
    }
  }

  return {
    async run(key, operation) {
      await acquire(key);
      try {
        return await operation();
      } finally {
        release(key);
      }
    },
    async hold(key) {
      await acquire(key);
      let released = false;
      return () => {
        if (!released) release(key);
        released = true;
      };
    },
    refusals: () => refused,
    activeKeys: () => shares.size,
  };
}

type WithPgClient = Grafast.Context["withPgClient"];

/**
 * A withPgClient whose every call (an HTTP operation's query, a subscription event's re-read) counts
 * against `key`'s share — except inside a request-held transaction, which holds one place for its
 * whole life (db/requestTransactions.ts) and would otherwise queue behind itself.
 */
export function withinShare(share: FairShare, key: string, withPgClient: WithPgClient): WithPgClient {
  return (pgSettings, callback) =>
    currentRequest()?.transaction
      ? withPgClient(pgSettings, callback)
      : share.run(key, () => withPgClient(pgSettings, callback));
}

/**
 * Whose share an operation uses: the verified sub; for an anonymous caller its address,
 * as the per-minute rate limit counts it (IPv6 by /56). Over HTTP that is Express's
 * req.ip, which honours `trust proxy`; a socket's upgrade request has only its peer.
 */
export function shareKeyOf(identity: Identity, request: IncomingMessage): string {
  if (identity) return `sub:${identity.sub}`;
  const address = (request as IncomingMessage & { ip?: string }).ip ?? request.socket.remoteAddress ?? "unknown";
  return `ip:${ipKeyGenerator(address)}`;
}
