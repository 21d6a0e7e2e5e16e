/**
 * Revocation, "sign out everywhere": per user, a cut-off in Postgres
 * (app_private.token_cutoffs, migration 000011); a token whose `iat` is before it,
 * or that has no `iat`, is refused. The truth is in the database, shared by every
 * instance; each process keeps a copy in memory so a valid request pays no round
 * trip for the check:
 *  - the copy is loaded only once LISTEN on `token_cutoffs` is known to be active
 *    (the process hears its own ping on the channel), so a revocation committed
 *    during the load is either in the load or heard afterwards — never lost;
 *  - every new cut-off arrives by NOTIFY on the live-updates listener connection
 *    (PgSubscriber), within milliseconds;
 *  - while that connection is down, or until the copy is re-loaded after it came
 *    back, the copy is not trusted: each check asks the database for that one user.
 * Cut-offs are whole seconds (a token's `iat` is): `iat < cutoff` is refused, so a
 * token issued in the same second as the revocation still works.
 */
import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import type { PgSubscriber } from "postgraphile/adaptors/pg";
import type { Logger } from "../logger";
import { userKey } from "../realtime/channels";
import { type Claims, TokenError, type TokenVerifier } from "./jwt";

/** The NOTIFY channel migration 000011's trigger announces cut-offs on. */
export const CUTOFF_CHANNEL = "token_cutoffs";

/** How long to wait for our own ping before sending it again, doubling up to the last (about 3 s in all). */
const PING_FIRST_WAIT_MS = 25;
const PING_LAST_WAIT_MS = 1_600;
/** Between failed attempts to catch up (the database itself is unreachable). */
const RETRY_MS = 1_000;

const CUTOFF_PAYLOAD = /^([0-9a-f]{48}):(\d+)$/;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** The cut-offs cannot be checked: the copy is untrusted and the database does not answer. */
export class RevocationsUnavailableError extends Error {
  constructor(cause: unknown) {
    super("cannot check token revocations: the database is unreachable", { cause });
    this.name = "RevocationsUnavailableError";
  }
}

export const REVOKED_REASON = "token was revoked (signed out everywhere); sign in again";

/** Called with a user key and its new cut-off (epoch seconds): open sockets use it to close. */
export type CutoffListener = (key: string, notBefore: number) => void;

export interface Revocations {
  /** Throws TokenError("revoked") when these claims are void. No database work while the copy is trusted. */
  check(claims: Claims): void | Promise<void>;
  /** The first full load has completed (readiness). */
  loaded(): boolean;
  /** The in-memory copy is current: loaded, and the LISTEN connection has not been lost since. */
  trusted(): boolean;
  /** Resolves the next time the copy is trusted (at once if it is). */
  whenTrusted(): Promise<void>;
  /** The copy may be stale (the LISTEN connection was lost): check in the database until caught up. */
  distrust(): void;
  /**
   * Resolves once this process has heard everything committed before the call (its own ping came
   * back), or at once while the copy is untrusted (the database is asked then anyway). A revocation
   * waits for it, so the process that answered it refuses the old tokens from its very next request.
   */
  caughtUp(): Promise<void>;
  onCutoff(listener: CutoffListener): void;
  /** Stops listening (the subscriber itself is released by its owner). */
  close(): void;
}

export interface RevocationDeps {
  /** The authenticator's pool: pings, loads, and the per-request fallback. */
  pool: Pool;
  subscriber: PgSubscriber;
  log: Logger;
}

/** Whether a token with these claims is void under `notBefore` (epoch seconds, or none). */
export function isRevoked(claims: Pick<Claims, "iat">, notBefore: number | undefined): boolean {
  if (notBefore === undefined) return false;
  return typeof claims.iat !== "number" || claims.iat < notBefore;
}

// A cached token's claims are one frozen object: its key is hashed once, not per request.
const keys = new WeakMap<object, string>();
export function keyOf(claims: Claims): string {
  let key = keys.get(claims);
  if (key === undefined) keys.set(claims, (key = userKey(claims.sub)));
  return key;
}

export function watchRevocations({ pool, subscriber, log }: RevocationDeps): Revocations {
  let cutoffs = new Map<string, number>();
  let loaded = false;
  let trusted = false;
  let alive = true;
  /** Bumped on every loss: a catch-up started before it must not declare the copy current. */
  let generation = 0;
  /** Cut-offs heard while a load is under way, applied over its result. */
  let heardDuringLoad: Array<[string, number]> | null = null;
  const pings = new Map<string, () => void>();
  const listeners: CutoffListener[] = [];
  let waiters: Array<() => void> = [];
  let iterator: AsyncIterableIterator<unknown> | undefined;

  const raise = (map: Map<string, number>, key: string, notBefore: number) => {
    // Cut-offs only move forward; a stale or repeated notification changes nothing.
    if (!(map.get(key)! >= notBefore)) map.set(key, notBefore);
  };

  function heard(payload: unknown) {
    if (typeof payload !== "string") return;
    if (payload.startsWith("ping:")) return pings.get(payload.slice(5))?.();
    const match = CUTOFF_PAYLOAD.exec(payload);
    if (!match) return log.warn({ channel: CUTOFF_CHANNEL }, "revocations: ignored a malformed notification");
    const [, key, seconds] = match;
    const notBefore = Number(seconds);
    raise(cutoffs, key!, notBefore);
    heardDuringLoad?.push([key!, notBefore]);
    for (const listener of listeners) listener(key!, notBefore);
  }

  /**
   * True once our own notification came back: LISTEN is active, and everything committed before
   * it has been heard. Re-sent at growing intervals, since LISTEN may not be active yet.
   */
  async function ping(): Promise<boolean> {
    const nonce = randomUUID();
    let back = false;
    const heardBack = new Promise<void>((resolve) =>
      pings.set(nonce, () => {
        back = true;
        resolve();
      }),
    );
    try {
      for (let wait = PING_FIRST_WAIT_MS; !back && alive && wait <= PING_LAST_WAIT_MS; wait *= 2) {
        await pool.query("select pg_notify($1, $2)", [CUTOFF_CHANNEL, `ping:${nonce}`]);
        await Promise.race([heardBack, sleep(wait)]);
      }
      return back;
    } finally {
      pings.delete(nonce);
    }
  }

  async function catchUp(gen: number): Promise<void> {
    while (alive && gen === generation) {
      // Heard from before the ping: whatever arrives while the load runs is applied over its result.
      const buffer: Array<[string, number]> = [];
      heardDuringLoad = buffer;
      try {
        if (!(await ping())) continue;
        const { rows } = await pool.query<{ user_key: string; not_before: string }>(
          "select user_key, not_before from app_private.token_cutoffs_by_key()",
        );
        if (gen !== generation || !alive) return;
        const fresh = new Map<string, number>();
        for (const row of rows) fresh.set(row.user_key, Number(row.not_before));
        for (const [key, notBefore] of buffer) raise(fresh, key, notBefore);
        const previous = cutoffs;
        cutoffs = fresh;
        heardDuringLoad = null;
        loaded = trusted = true;
        log.info({ cutoffs: fresh.size }, "revocations: cut-offs loaded; listening for new ones");
        // Revocations that happened while nobody listened: their open sockets end now.
        for (const [key, notBefore] of fresh) {
          if (previous.get(key) !== notBefore) for (const listener of listeners) listener(key, notBefore);
        }
        const ready = waiters;
        waiters = [];
        for (const resolve of ready) resolve();
        return;
      } catch (error) {
        log.warn({ err: error }, "revocations: cannot load cut-offs yet; retrying");
        await sleep(RETRY_MS);
      }
    }
  }

  async function listen(): Promise<void> {
    while (alive) {
      iterator = subscriber.subscribe(CUTOFF_CHANNEL) as AsyncIterableIterator<unknown>;
      void catchUp(generation);
      try {
        for await (const payload of iterator) heard(payload);
        return; // returned: released
      } catch (error) {
        // PgSubscriber ends every subscription when its connection is lost: we may have missed cut-offs.
        if (!alive) return;
        generation += 1;
        trusted = false;
        log.warn({ err: error }, "revocations: LISTEN lost; checking cut-offs in the database until re-loaded");
      }
    }
  }
  void listen();

  async function fromDatabase(claims: Claims): Promise<number | undefined> {
    try {
      const { rows } = await pool.query<{ not_before: string | null }>(
        "select app_private.token_cutoff($1) as not_before",
        [claims.sub],
      );
      const value = rows[0]?.not_before;
      return value == null ? undefined : Number(value);
    } catch (error) {
      throw new RevocationsUnavailableError(error);
    }
  }

  return {
    check(claims) {
      if (trusted) {
        if (isRevoked(claims, cutoffs.get(keyOf(claims)))) throw new TokenError("revoked", REVOKED_REASON);
        return;
      }
      return fromDatabase(claims).then((notBefore) => {
        // The copy may have caught up while we asked, with a cut-off newer than our answer.
        const known = trusted ? cutoffs.get(keyOf(claims)) : undefined;
        if (isRevoked(claims, notBefore) || isRevoked(claims, known)) throw new TokenError("revoked", REVOKED_REASON);
      });
    },
    loaded: () => loaded,
    trusted: () => trusted,
    whenTrusted: () => (trusted ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    distrust() {
      if (!trusted) return;
      generation += 1;
      trusted = false;
    },
    async caughtUp() {
      if (!trusted) return;
      if (await ping()) log.debug("revocations: caught up");
      else log.warn("revocations: did not hear our own ping; the LISTEN connection may be slow");
    },
    onCutoff: (listener) => void listeners.push(listener),
    close() {
      alive = false;
      trusted = false;
      void iterator?.return?.();
    },
  };
}

/** The verifier the app uses: every verified token — fresh or from the token cache — is then checked here. */
export function withRevocations(verifier: TokenVerifier, revocations: Revocations): TokenVerifier {
  return {
    keys: verifier.keys,
    async verify(token) {
      const claims = await verifier.verify(token);
      await revocations.check(claims);
      return claims;
    },
  };
}
