/**
 * Where verification keys come from, and which algorithms each key type allows.
 * Pinning algorithms to the key type is what makes `alg: none` and HS/RS key
 * confusion impossible: an HMAC algorithm is never accepted for a public key.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { JwtConfig } from "../config";
import type { Logger } from "../logger";

const RSA = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const ASYMMETRIC = [...RSA, "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

type VerificationKey = Uint8Array | KeyObject | JWTVerifyGetKey;

export interface KeySource {
  key: VerificationKey;
  algorithms: string[];
  /** True once keys are available (always, except a JWKS that was never fetched). */
  ready(): boolean;
}

/** Thrown when no key can be had at all (a JWKS that never loaded): a server problem, not the token's. */
export class KeysUnavailableError extends Error {
  constructor(cause: unknown) {
    super("the identity provider's keys could not be loaded", { cause });
    this.name = "KeysUnavailableError";
  }
}

export function makeKeySource(config: JwtConfig, log: Logger): KeySource {
  const { source } = config;
  switch (source.kind) {
    case "secret":
      return fixed(importSecret(source.secret), narrow(["HS256"], config.algorithms));
    case "publicKey": {
      const key = parsePublicKey(source.key);
      return fixed(key, narrow(algorithmsFor(key), config.algorithms));
    }
    case "jwks": {
      const remote = new RemoteKeySet(source.url, config, log);
      return { key: remote.getKey, algorithms: narrow(ASYMMETRIC, config.algorithms), ready: () => remote.loaded };
    }
  }
}

/**
 * Given raw bytes, jose imports them as a WebCrypto key on every verification (a
 * measurable share of a request); imported once here instead. Usable only for HMAC
 * with SHA-256, i.e. HS256, the one algorithm a secret is allowed.
 */
function importSecret(secret: string): JWTVerifyGetKey {
  const key = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return () => key;
}

function fixed(key: VerificationKey, algorithms: string[]): KeySource {
  return { key, algorithms, ready: () => true };
}

/** JWT_ALGORITHMS may only narrow what the key type allows. */
function narrow(allowed: string[], requested: string[] | undefined): string[] {
  if (!requested) return allowed;
  const refused = requested.filter((alg) => !allowed.includes(alg));
  if (refused.length > 0) {
    throw new Error(
      `JWT_ALGORITHMS lists ${refused.join(", ")}, which this key cannot verify (allowed: ${allowed.join(", ")})`,
    );
  }
  return requested;
}

/** JWT_PUBLIC_KEY: a PEM (SPKI or certificate) or a single public JWK as JSON. */
function parsePublicKey(text: string): KeyObject {
  let key: KeyObject;
  try {
    key = text.startsWith("{") ? createPublicKey({ key: JSON.parse(text), format: "jwk" }) : createPublicKey(text);
  } catch (error) {
    throw new Error(`JWT_PUBLIC_KEY is not a readable PEM or JWK public key (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (key.type !== "public") throw new Error("JWT_PUBLIC_KEY must be a public key");
  return key;
}

function algorithmsFor(key: KeyObject): string[] {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case "rsa":
      return RSA;
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"];
    case "ec": {
      const byCurve: Record<string, string> = { prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" };
      const alg = details?.namedCurve ? byCurve[details.namedCurve] : undefined;
      if (!alg) throw new Error(`JWT_PUBLIC_KEY uses an unsupported curve (${details?.namedCurve})`);
      return [alg];
    }
    case "ed25519":
      return ["EdDSA", "Ed25519"];
    default:
      throw new Error(`JWT_PUBLIC_KEY has an unsupported key type (${key.asymmetricKeyType})`);
  }
}

/**
 * A remote JWKS (JWKS_URL): fetched on first use, kept for `JWKS_MAX_AGE`, refetched
 * early when a token names an unknown `kid` — at most once per `JWKS_COOLDOWN`, so
 * random kids cannot turn the API into a fetch loop. A failed fetch keeps the keys
 * already known. jose's own remote set drops them on failure, hence this wrapper.
 */
class RemoteKeySet {
  private local: JWTVerifyGetKey | undefined;
  private loadedAt = 0;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly url: URL,
    private readonly config: JwtConfig,
    private readonly log: Logger,
  ) {}

  get loaded(): boolean {
    return this.local !== undefined;
  }

  getKey: JWTVerifyGetKey = async (header, token) => {
    const stale = Date.now() - this.loadedAt > this.config.jwksMaxAgeSeconds * 1000;
    if (!this.local || stale) await this.refreshUnlessCoolingDown();
    if (!this.local) throw new KeysUnavailableError(undefined);
    try {
      return await this.local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A kid we have not seen: perhaps the provider rotated its keys.
      if (!(await this.refreshUnlessCoolingDown())) throw error;
      return this.local(header, token);
    }
  };

  /** One fetch at a time, at most one per cooldown; true when a fetch ran. */
  private async refreshUnlessCoolingDown(): Promise<boolean> {
    if (!this.inFlight) {
      if (Date.now() - this.attemptedAt < this.config.jwksCooldownSeconds * 1000) return false;
      this.attemptedAt = Date.now();
      this.inFlight = this.fetchKeys().finally(() => (this.inFlight = undefined));
    }
    await this.inFlight;
    return true;
  }

  /** Failures are logged and leave the known keys in place. */
  private async fetchKeys(): Promise<void> {
    try {
      const response = await fetch(this.url, {
        signal: AbortSignal.timeout(5000),
        headers: { accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const jwks = (await response.json()) as JSONWebKeySet;
      this.local = createLocalJWKSet(jwks);
      this.loadedAt = Date.now();
      this.log.info({ keys: jwks.keys?.length ?? 0 }, "JWKS loaded");
    } catch (error) {
      this.log.warn({ err: error, url: this.url.origin + this.url.pathname }, "JWKS fetch failed; keeping known keys");
    }
  }
}
