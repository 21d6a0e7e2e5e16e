/*
 * The rules around a remote identity provider, as pure functions: when keys are
 * refreshed, how retries back off, and what a discovery document must say before
 * its jwks_uri is trusted. The processes that use them: test/api/identity-provider.test.ts.
 */
import {
  checkJwksUri,
  discoveryUrl,
  isLoopback,
  jwksUriFromDocument,
  KeyConfigurationError,
} from "../../src/auth/discovery";
import { cacheMaxAgeSeconds, refreshDelaySeconds, retryDelayMs } from "../../src/auth/keys";

describe("when keys are refreshed", () => {
  it("reads max-age from Cache-Control, and no-cache or no-store as 0", () => {
    expect(cacheMaxAgeSeconds("public, max-age=3600, must-revalidate")).toBe(3600);
    expect(cacheMaxAgeSeconds("Max-Age=20")).toBe(20);
    expect(cacheMaxAgeSeconds("no-cache")).toBe(0);
    expect(cacheMaxAgeSeconds("private, no-store")).toBe(0);
    expect(cacheMaxAgeSeconds("public")).toBeUndefined();
    expect(cacheMaxAgeSeconds(null)).toBeUndefined();
  });

  it("honours the provider's max-age between a 30 s floor and JWKS_MAX_AGE", () => {
    expect(refreshDelaySeconds(120, 600)).toBe(120);
    expect(refreshDelaySeconds(86_400, 600)).toBe(600); // capped by JWKS_MAX_AGE
    expect(refreshDelaySeconds(0, 600)).toBe(30); // no-cache does not mean "every request"
    expect(refreshDelaySeconds(undefined, 600)).toBe(600);
    expect(refreshDelaySeconds(0, 5)).toBe(5); // an operator's smaller JWKS_MAX_AGE wins over the floor
  });

  it("backs off exponentially with jitter while the provider is down, from about 1 s to at most 60 s", () => {
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, high))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, low))).toEqual([500, 1000, 2000, 4000]);
    expect(retryDelayMs(7, high)).toBe(60_000);
    expect(retryDelayMs(50, high)).toBe(60_000);
    expect(retryDelayMs(50, low)).toBe(30_000);
  });
});

describe("OIDC discovery", () => {
  const issuer = "https://id.example.com";

  it("looks for the document under the issuer, with one trailing slash dropped", () => {
    expect(discoveryUrl("https://tenant.auth0.example/").href).toBe(
      "https://tenant.auth0.example/.well-known/openid-configuration",
    );
    expect(discoveryUrl("https://kc.example/realms/tasks").href).toBe(
      "https://kc.example/realms/tasks/.well-known/openid-configuration",
    );
  });

  it("takes jwks_uri from a document that names exactly our issuer", () => {
    const url = jwksUriFromDocument(issuer, { issuer, jwks_uri: `${issuer}/jwks.json` });
    expect(url.href).toBe("https://id.example.com/jwks.json");
  });

  it("refuses a document naming another issuer, even by one trailing slash, naming JWT_ISSUER and both values", () => {
    expect(() => jwksUriFromDocument(issuer, { issuer: `${issuer}/`, jwks_uri: `${issuer}/jwks.json` })).toThrow(
      new KeyConfigurationError(
        `JWT_ISSUER is "${issuer}" but the discovery document at ${issuer}/.well-known/openid-configuration ` +
          `names the issuer "${issuer}/"; set JWT_ISSUER to exactly the issuer your tokens carry in iss`,
      ),
    );
    expect(() => jwksUriFromDocument(issuer, { jwks_uri: `${issuer}/jwks.json` })).toThrow(/names the issuer null/);
  });

  it("refuses a document without a usable jwks_uri, naming JWT_ISSUER", () => {
    for (const jwks_uri of [undefined, 42, "not a url", ""]) {
      expect(() => jwksUriFromDocument(issuer, { issuer, jwks_uri })).toThrow(
        /^JWT_ISSUER is "https:\/\/id\.example\.com" but .* has no valid jwks_uri/,
      );
    }
    expect(() => jwksUriFromDocument(issuer, ["not", "an", "object"])).toThrow(/^JWT_ISSUER .* is not a JSON object/);
  });

  it("accepts a jwks_uri on another origin over https (Google's keys live elsewhere)", () => {
    expect(() =>
      checkJwksUri("https://accounts.google.example", new URL("https://www.googleapis.example/certs")),
    ).not.toThrow();
    expect(() => checkJwksUri(issuer, new URL("https://keys.cdn.example:8443/jwks.json"))).not.toThrow();
  });

  it("accepts plain http only when the issuer and the keys are both on loopback", () => {
    expect(() => checkJwksUri("http://127.0.0.1:4000", new URL("http://127.0.0.1:4001/jwks.json"))).not.toThrow();
    expect(() => checkJwksUri("http://localhost:4000", new URL("http://[::1]:4001/jwks.json"))).not.toThrow();
  });

  it("refuses a downgrade to plain http on a non-loopback host, naming JWT_ISSUER", () => {
    for (const [from, to] of [
      [issuer, "http://id.example.com/jwks.json"], // same host, downgraded
      [issuer, "http://keys.example.net/jwks.json"],
      ["http://127.0.0.1:4000", "http://10.0.0.5/jwks.json"],
    ] as const) {
      expect(() => checkJwksUri(from, new URL(to))).toThrow(
        /^JWT_ISSUER is ".*" but its discovery document points jwks_uri at http:/,
      );
    }
    expect(() => checkJwksUri(issuer, new URL("ftp://id.example.com/jwks.json"))).toThrow(KeyConfigurationError);
  });

  it("counts only localhost, 127.0.0.0/8 and ::1 as loopback", () => {
    expect(["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "LOCALHOST"].every(isLoopback)).toBe(true);
    expect(["localhost.example.com", "128.0.0.1", "10.0.0.1", "[::2]", "127.0.0.1.nip.io"].some(isLoopback)).toBe(
      false,
    );
  });
});
