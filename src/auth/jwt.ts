/**
 * Token verification with jose: signature, algorithm pinned to the key, exp
 * (required), nbf, iat, iss/aud when configured, and a usable `sub`. Every
 * failure becomes a TokenError whose `reason` a client developer can act on.
 */
import { errors, jwtVerify, type JWTPayload } from "jose";
import type { JwtConfig } from "../config";
import { UPSTREAM } from "../errors/upstream";
import type { Logger } from "../logger";
import { KeysUnavailableError, makeKeySource, type KeyLifecycle } from "./keys";
import { withTokenCache } from "./tokenCache";

/** Verified claims: `sub` is always a non-empty string. */
export type Claims = JWTPayload & { sub: string };

/** The same bound the database puts on user_id. */
const MAX_SUB_LENGTH = 255;
/** Real tokens are well under 2 KB; anything this large is an attack or a mistake. */
const MAX_TOKEN_LENGTH = 8192;

/** Why a token was refused, as a short stable label (metrics); `reason` is the sentence for people. */
export type RejectionKind =
  | "header"
  | "too_large"
  | "malformed"
  | "algorithm"
  | "signature"
  | "unknown_key"
  | "expired"
  | "not_yet_valid"
  | "issued_in_future"
  | "issuer"
  | "audience"
  | "claim"
  | "subject"
  /** Issued before the user's revocation cut-off (auth/revocation.ts). */
  | "revoked";

export class TokenError extends Error {
  constructor(
    readonly kind: RejectionKind,
    readonly reason: string,
  ) {
    super(reason);
    this.name = "TokenError";
  }
}

export interface TokenVerifier {
  verify(token: string): Promise<Claims>;
  /** The keys' life: readiness, and the background refresh of a remote key set (start/stop). */
  keys: KeyLifecycle;
}

/**
 * The verifier the API uses: every check below, behind a bounded cache of verified
 * tokens (auth/tokenCache.ts) unless JwtConfig.cacheSize is 0. `now` (milliseconds)
 * is the clock for every time check; tests inject one instead of waiting.
 */
export function makeTokenVerifier(config: JwtConfig, log: Logger, now: () => number = Date.now): TokenVerifier {
  const verifier = makeUncachedTokenVerifier(config, log, now);
  if (config.cacheSize === 0) return verifier;
  return withTokenCache(verifier, {
    size: config.cacheSize,
    maxAgeSeconds: config.cacheMaxAgeSeconds,
    clockToleranceSeconds: config.clockToleranceSeconds,
    now,
  });
}

/** Verifies every token afresh. */
export function makeUncachedTokenVerifier(config: JwtConfig, log: Logger, now: () => number = Date.now): TokenVerifier {
  const keys = makeKeySource(config, log);
  const options = {
    algorithms: keys.algorithms,
    // With discovery the issuer is what the keys were found by: every token must name it.
    issuer: config.source.kind === "discovery" ? config.source.issuer : config.issuer,
    audience: config.audience,
    clockTolerance: config.clockToleranceSeconds,
    requiredClaims: ["exp"],
  };
  return {
    keys: keys.lifecycle,
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH)
        throw new TokenError("too_large", `token is longer than ${MAX_TOKEN_LENGTH} characters`);
      let payload: JWTPayload;
      try {
        // jose picks the overload by the key's type; both accept the same options.
        ({ payload } = await jwtVerify(token, keys.key as Parameters<typeof jwtVerify>[1], {
          ...options,
          currentDate: new Date(now()),
        }));
      } catch (error) {
        throw explain(error);
      }
      checkIssuedAt(payload, config.clockToleranceSeconds, now());
      return checkSubject(payload);
    },
  };
}

/** jose accepts an `iat` in the future unless maxTokenAge is set; we do not. */
function checkIssuedAt(payload: JWTPayload, toleranceSeconds: number, nowMs: number): void {
  if (payload.iat !== undefined && payload.iat > nowMs / 1000 + toleranceSeconds) {
    throw new TokenError("issued_in_future", "token is issued in the future (iat)");
  }
}

function checkSubject(payload: JWTPayload): Claims {
  const { sub } = payload;
  if (sub === undefined) throw new TokenError("subject", 'token has no "sub" claim');
  if (typeof sub !== "string" || sub.length === 0)
    throw new TokenError("subject", '"sub" claim must be a non-empty string');
  if (sub.length > MAX_SUB_LENGTH)
    throw new TokenError("subject", `"sub" claim is longer than ${MAX_SUB_LENGTH} characters`);
  return payload as Claims;
}

function explain(error: unknown): Error {
  if (error instanceof KeysUnavailableError) return error;
  if (error instanceof errors.JWTExpired) return new TokenError("expired", "token has expired (exp)");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return new TokenError("claim", `token has no "${error.claim}" claim`);
    if (error.reason === "invalid") return new TokenError("claim", `token has an invalid "${error.claim}" claim`);
    if (error.claim === "nbf") return new TokenError("not_yet_valid", "token is not valid yet (nbf)");
    if (error.claim === "iss") return new TokenError("issuer", "token has the wrong issuer (iss)");
    if (error.claim === "aud") return new TokenError("audience", "token is not meant for this API (aud)");
    return new TokenError("claim", `token has an invalid "${error.claim}" claim`);
  }
  if (error instanceof errors.JOSENotSupported && UPSTREAM.unknownCritHeader.pattern.test(error.message)) {
    return new TokenError("malformed", "token has a critical (crit) header this API does not support");
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new TokenError("algorithm", "token is signed with an algorithm this API does not accept");
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new TokenError("signature", "token signature is invalid");
  if (error instanceof errors.JWKSNoMatchingKey)
    return new TokenError("unknown_key", "no known key matches the token's kid");
  if (error instanceof errors.JWKSMultipleMatchingKeys)
    return new TokenError("unknown_key", "token's kid matches several keys");
  if (error instanceof errors.JOSEError || error instanceof TypeError)
    return new TokenError("malformed", "token is malformed");
  return error instanceof Error ? error : new Error(String(error));
}
