/**
 * Where verification keys come from, and which algorithms each key type allows.
 * Pinning algorithms to the key type is what makes `alg: none` and HS/RS key
 * confusion impossible: an HMAC algorithm is never accepted for a public key.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { JwtConfig } from "../config";
import type { Logger } from "../logger";
import { discoveryUrl, jwksUriFromDocument, KeyConfigurationError } from "./discovery";

const RSA = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const ASYMMETRIC = [...RSA, "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

type VerificationKey = Uint8Array | KeyObject | JWTVerifyGetKey;

/** The life of a key source: remote ones load in the background; fixed ones are ready from the start. */
export interface KeyLifecycle {
  /** Why tokens cannot be verified yet (for readiness), or undefined once they can. */
  notReady(): string | undefined;
  /**
   * Loads the keys and keeps them fresh in the background. Resolves once the first
   * attempt has settled, loaded or not; rejects with a KeyConfigurationError when
   * the provider's answer contradicts the configuration. Such an error found later
   * (the provider was unreachable at start) goes to `onFatal`.
   */
  start(onFatal: (error: KeyConfigurationError) => void): Promise<void>;
  /** Stops the background refresh (graceful shutdown). */
  stop(): void;
}

export interface KeySource {
  key: VerificationKey;
  algorithms: string[];
  lifecycle: KeyLifecycle;
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
    case "jwks":
    case "discovery": {
      const algorithms = narrow(ASYMMETRIC, config.algorithms);
      const remote = new RemoteKeySet(source, config, log);
      return { key: remote.getKey, algorithms, lifecycle: remote };
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

const ALWAYS_READY: KeyLifecycle = { notReady: () => undefined, start: async () => {}, stop: () => {} };

function fixed(key: VerificationKey, algorithms: string[]): KeySource {
  return { key, algorithms, lifecycle: ALWAYS_READY };
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

/** Longest wait for the provider's answer. */
const FETCH_TIMEOUT_MS = 5000;
/** A provider's max-age (or no-cache) never makes us refetch more often than this, unless JWKS_MAX_AGE is smaller. */
const MIN_REFRESH_SECONDS = 30;
/** While the provider is down: retries after about 1 s, 2 s, 4 s … at most 60 s apart. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;

/** Seconds from a Cache-Control header: max-age, 0 for no-cache/no-store, undefined when it says neither. */
export function cacheMaxAgeSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const directives = header.split(",").map((d) => d.trim().toLowerCase());
  if (directives.includes("no-store") || directives.includes("no-cache")) return 0;
  for (const directive of directives) {
    const match = /^max-age\s*=\s*"?(\d+)"?$/.exec(directive);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/** When to refresh after a successful fetch: the provider's max-age, at least MIN_REFRESH_SECONDS, at most JWKS_MAX_AGE. */
export function refreshDelaySeconds(maxAge: number | undefined, jwksMaxAgeSeconds: number): number {
  return Math.min(jwksMaxAgeSeconds, Math.max(MIN_REFRESH_SECONDS, maxAge ?? jwksMaxAgeSeconds));
}

/** Exponential backoff with jitter after `failures` failed attempts in a row: between half and all of 1 s × 2^(n-1), capped at 60 s. */
export function retryDelayMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.max(0, failures - 1));
  return ceiling / 2 + (random() * ceiling) / 2;
}

/** A provider that answered, but not usefully (HTTP error, not JSON, no key set): retried like an outage. */
class ProviderError extends Error {}

/**
 * A remote JWKS (JWKS_URL, or the `jwks_uri` of JWT_ISSUER's discovery document).
 * Loaded at start-up and refreshed in the background, when the provider's
 * Cache-Control says (within MIN_REFRESH_SECONDS … JWKS_MAX_AGE), with backoff while
 * it is down; a failed refresh keeps the keys already known (jose's own remote set
 * drops them, hence this class). A token naming an unknown `kid` triggers an early
 * refetch, at most once per `JWKS_COOLDOWN`, so random kids cannot turn the API
 * into a fetch loop. With discovery, each background refresh re-reads the
 * document first and follows a changed `jwks_uri`.
 */
class RemoteKeySet implements KeyLifecycle {
  private local: JWTVerifyGetKey | undefined;
  private jwksUrl: URL | undefined;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextAttemptAt: number | undefined;
  private failures = 0;
  private problem = "the first fetch has not finished";
  private fatal: KeyConfigurationError | undefined;
  private onFatal: ((error: KeyConfigurationError) => void) | undefined;
  private started = false;
  private firstSettled = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly source: { kind: "jwks"; url: URL } | { kind: "discovery"; issuer: string; url: URL },
    private readonly config: JwtConfig,
    private readonly log: Logger,
  ) {
    if (source.kind === "jwks") this.jwksUrl = source.url;
  }

  notReady = (): string | undefined => {
    if (this.local) return undefined;
    if (this.fatal) return `identity provider configuration error: ${this.fatal.message}`;
    const retry =
      this.nextAttemptAt === undefined
        ? ""
        : `; next attempt in ${Math.max(1, Math.ceil((this.nextAttemptAt - Date.now()) / 1000))} s`;
    return `identity provider keys not loaded yet: ${this.problem}${retry}`;
  };

  async start(onFatal: (error: KeyConfigurationError) => void): Promise<void> {
    this.onFatal = onFatal;
    this.started = true;
    await this.refresh(true);
    this.firstSettled = true;
    if (this.fatal) throw this.fatal;
  }

  stop(): void {
    this.started = false;
    clearTimeout(this.timer);
    this.nextAttemptAt = undefined;
    this.abort.abort();
  }

  getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.local) await this.refreshUnlessCoolingDown();
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

  /** A request's refetch: joins one in flight, else at most one per cooldown; true when a fetch ran. */
  private async refreshUnlessCoolingDown(): Promise<boolean> {
    if (this.fatal || this.abort.signal.aborted) return false;
    if (!this.inFlight && Date.now() - this.attemptedAt < this.config.jwksCooldownSeconds * 1000) return false;
    await this.refresh(false);
    return true;
  }

  /** One attempt at a time; `full` re-reads the discovery document too. Never rejects. */
  private refresh(full: boolean): Promise<void> {
    if (!this.inFlight) {
      this.attemptedAt = Date.now();
      clearTimeout(this.timer);
      this.nextAttemptAt = undefined;
      this.inFlight = this.attempt(full).finally(() => (this.inFlight = undefined));
    }
    return this.inFlight;
  }

  private async attempt(full: boolean): Promise<void> {
    let delayMs: number;
    try {
      if (this.source.kind === "discovery" && (full || !this.jwksUrl)) await this.discover(this.source.issuer);
      const maxAge = await this.fetchKeys(this.jwksUrl!);
      this.failures = 0;
      delayMs = refreshDelaySeconds(maxAge, this.config.jwksMaxAgeSeconds) * 1000;
    } catch (error) {
      if (this.abort.signal.aborted) return;
      if (error instanceof KeyConfigurationError) {
        // Keys from a provider that contradicts our configuration must never be served.
        this.fatal = error;
        this.log.fatal({ err: error }, "identity provider configuration error");
        if (this.firstSettled) this.onFatal?.(error);
        return;
      }
      this.failures += 1;
      this.problem = (error as Error).message;
      delayMs = retryDelayMs(this.failures);
      this.log.warn(
        { err: error, retryInMs: Math.round(delayMs), keysKnown: this.local !== undefined },
        "identity provider fetch failed; keeping known keys",
      );
    }
    if (this.started) this.schedule(delayMs);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.nextAttemptAt = Date.now() + delayMs;
    // unref: a pending refresh never keeps the process alive on its own.
    this.timer = setTimeout(() => void this.refresh(true), delayMs).unref();
  }

  /**
   * Reads the discovery document and takes its jwks_uri. Once keys were loaded from a
   * checked document, a later unreachable or contradicting one is logged and the known
   * jwks_uri kept: a provider's bad deploy must not stop every replica at once.
   */
  private async discover(issuer: string): Promise<void> {
    try {
      const response = await this.get(discoveryUrl(issuer), "the discovery document");
      const url = jwksUriFromDocument(issuer, await this.json(response, "the discovery document"));
      if (this.jwksUrl && url.href !== this.jwksUrl.href) {
        this.log.info({ from: this.jwksUrl.href, to: url.href }, "discovery: jwks_uri changed; following it");
      }
      this.jwksUrl = url;
    } catch (error) {
      if (!this.local || !this.jwksUrl || this.abort.signal.aborted) throw error;
      const level = error instanceof KeyConfigurationError ? "error" : "warn";
      this.log[level]({ err: error }, "discovery document unusable; keeping the known jwks_uri");
    }
  }

  /** Loads the key set; returns the max-age its response allows. Failures throw and leave the known keys. */
  private async fetchKeys(url: URL): Promise<number | undefined> {
    const response = await this.get(url, "the key set");
    const jwks = (await this.json(response, "the key set")) as JSONWebKeySet;
    if (!Array.isArray(jwks?.keys)) throw new ProviderError("the key set has no keys array");
    let local: JWTVerifyGetKey;
    try {
      local = createLocalJWKSet(jwks);
    } catch (error) {
      throw new ProviderError(`the key set is not a valid JWKS (${(error as Error).message})`);
    }
    this.local = local;
    // An empty set is loaded as such: a provider may publish its first key only when it first signs.
    this.log[jwks.keys.length ? "info" : "warn"]({ keys: jwks.keys.length, url: url.href }, "JWKS loaded");
    return cacheMaxAgeSeconds(response.headers.get("cache-control"));
  }

  private async get(url: URL, what: string): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, {
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]),
        headers: { accept: "application/json" },
      });
    } catch (error) {
      // fetch says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND, bad port …).
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why =
        (error as Error).name === "TimeoutError"
          ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s`
          : typeof cause?.code === "string"
            ? cause.code
            : typeof cause?.message === "string"
              ? cause.message
              : (error as Error).message;
      throw new ProviderError(`${what} is unreachable (${why})`, { cause: error });
    }
    if (url.protocol === "https:" && new URL(response.url).protocol !== "https:") {
      throw new ProviderError(`${what} redirected to plain http (${new URL(response.url).origin})`);
    }
    if (!response.ok) throw new ProviderError(`${what} answered HTTP ${response.status}`);
    return response;
  }

  private async json(response: Response, what: string): Promise<unknown> {
    try {
      return await response.json();
    } catch (error) {
      throw new ProviderError(`${what} is not JSON`, { cause: error });
    }
  }
}
