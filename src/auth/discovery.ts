/**
 * OpenID Connect Discovery (JWT_ISSUER with no key setting): where the issuer's
 * document lives, and the rules its answer must meet before its `jwks_uri` is
 * trusted. Pure functions; fetching and retrying live in auth/keys.ts.
 */

/** The configuration does not fit what the provider publishes: serving anyway would be wrong, so the process stops. */
export class KeyConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyConfigurationError";
  }
}

/** localhost, 127.0.0.0/8 and ::1: plain http is acceptable there (development), nowhere else. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Why JWT_ISSUER cannot be used for discovery, or undefined when it can: an
 * absolute https URL (http only on a loopback host) with no query or fragment,
 * as OIDC Discovery requires of an issuer identifier.
 */
export function issuerProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return `JWT_ISSUER must be a URL when it is the only JWT setting (OIDC discovery), got "${issuer}"`;
  }
  if (url.search || url.hash || issuer.includes("?") || issuer.includes("#"))
    return `JWT_ISSUER must have no query or fragment (OIDC discovery), got "${issuer}"`;
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return undefined;
  return `JWT_ISSUER must be an https URL (plain http only on localhost) for OIDC discovery, got "${issuer}"`;
}

/** OIDC Discovery 1.0 §4: strip one trailing "/" from the issuer, then append the well-known path. */
export function discoveryUrl(issuer: string): URL {
  return new URL(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
}

/**
 * Checks a discovery document against JWT_ISSUER and returns its key set's URL.
 * The document's `issuer` must equal JWT_ISSUER exactly (OIDC Discovery §4.3).
 * `jwks_uri` may live on another origin (Google's keys do): https is accepted
 * anywhere, since the document itself came from the issuer; plain http only when
 * both it and the issuer are on a loopback host (development). A downgrade to
 * plain http anywhere else would let the network substitute keys.
 */
export function jwksUriFromDocument(issuer: string, document: unknown): URL {
  const where = `the discovery document at ${discoveryUrl(issuer).href}`;
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new KeyConfigurationError(`JWT_ISSUER is "${issuer}" but ${where} is not a JSON object`);
  }
  const { issuer: advertised, jwks_uri: jwksUri } = document as Record<string, unknown>;
  if (advertised !== issuer) {
    throw new KeyConfigurationError(
      `JWT_ISSUER is "${issuer}" but ${where} names the issuer ${JSON.stringify(advertised ?? null)}; ` +
        "set JWT_ISSUER to exactly the issuer your tokens carry in iss",
    );
  }
  let url: URL;
  try {
    if (typeof jwksUri !== "string") throw new Error("missing");
    url = new URL(jwksUri);
  } catch {
    throw new KeyConfigurationError(
      `JWT_ISSUER is "${issuer}" but ${where} has no valid jwks_uri (got ${JSON.stringify(jwksUri ?? null)})`,
    );
  }
  checkJwksUri(issuer, url);
  return url;
}

/** The origin rule for `jwks_uri` (see jwksUriFromDocument). */
export function checkJwksUri(issuer: string, jwksUri: URL): void {
  if (jwksUri.protocol === "https:") return;
  const issuerUrl = new URL(issuer);
  if (jwksUri.protocol === "http:" && isLoopback(jwksUri.hostname) && isLoopback(issuerUrl.hostname)) return;
  throw new KeyConfigurationError(
    `JWT_ISSUER is "${issuer}" but its discovery document points jwks_uri at ${jwksUri.href}: ` +
      "keys are only fetched over https (plain http only when issuer and keys are both on localhost)",
  );
}
