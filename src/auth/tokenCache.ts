/**
 * A bounded cache of verified tokens, so a client that sends the same token on
 * every request pays for its signature check once. Honest by construction:
 *  - the key is the SHA-256 of the exact token, so only the very same token hits
 *    (one character different is a different key) and a hit returns the claims
 *    that token itself carried — never another user's;
 *  - only successful verifications are stored; a refused token is checked afresh
 *    every time;
 *  - an entry is used only while the token is still valid by the clock, judged as
 *    jose judges it (exp, nbf, and our iat rule, with the same tolerance), and for
 *    at most `maxAgeSeconds` after it was verified, so a key removed from the key
 *    set stops being honoured within that bound (plus the key set's own refresh);
 *  - at most `size` entries, least recently used evicted first.
 */
import { createHash } from "node:crypto";
import type { Claims, TokenVerifier } from "./jwt";

export interface TokenCacheOptions {
  /** Most entries kept; 0 disables the cache. */
  size: number;
  /** Longest an entry is trusted after its verification, in seconds. */
  maxAgeSeconds: number;
  /** The verifier's clock tolerance (JWT_CLOCK_TOLERANCE), in seconds. */
  clockToleranceSeconds: number;
  /** Milliseconds since the epoch; injectable so tests need not wait. */
  now: () => number;
}

interface Entry {
  claims: Claims;
  /** Past this instant (ms) the entry is not used. */
  usableUntil: number;
}

export interface CachingTokenVerifier extends TokenVerifier {
  /** Entries held now (never above the configured size). */
  cacheSize(): number;
}

/** True while the claims would still pass the verifier's time checks at `nowMs`. */
function stillValid(claims: Claims, nowMs: number, toleranceSeconds: number): boolean {
  const now = Math.floor(nowMs / 1000);
  if (typeof claims.exp === "number" && claims.exp <= now - toleranceSeconds) return false;
  if (typeof claims.nbf === "number" && claims.nbf > now + toleranceSeconds) return false;
  if (typeof claims.iat === "number" && claims.iat > nowMs / 1000 + toleranceSeconds) return false;
  return true;
}

export function withTokenCache(inner: TokenVerifier, options: TokenCacheOptions): CachingTokenVerifier {
  const { size, maxAgeSeconds, clockToleranceSeconds, now } = options;
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the least recently used.
  const entries = new Map<string, Entry>();
  return {
    keys: inner.keys,
    cacheSize: () => entries.size,
    async verify(token) {
      if (size === 0) return inner.verify(token);
      const key = createHash("sha256").update(token).digest("base64url");
      const at = now();
      const hit = entries.get(key);
      if (hit) {
        entries.delete(key);
        if (at < hit.usableUntil && stillValid(hit.claims, at, clockToleranceSeconds)) {
          entries.set(key, hit);
          return hit.claims;
        }
        // Stale: verify again, which refuses it with the right reason if it is no longer valid.
      }
      // Throws for a refused token: nothing is stored. Frozen: every request holding it shares the object.
      const claims = Object.freeze(await inner.verify(token));
      const expiresAt = typeof claims.exp === "number" ? (claims.exp + clockToleranceSeconds) * 1000 : Infinity;
      entries.set(key, { claims, usableUntil: Math.min(at + maxAgeSeconds * 1000, expiresAt) });
      if (entries.size > size) entries.delete(entries.keys().next().value!);
      return claims;
    },
  };
}
