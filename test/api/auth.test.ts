/*
 * Authentication over HTTP with real tokens: a shared HS256 secret, a single
 * public key, and a JWKS with EdDSA and RS256 keys served from 127.0.0.1.
 * Every rejection is a 401 decided before the pool is asked for a connection.
 */
import { ConfigError, loadConfig } from "../../src/config";
import { jwtConfig, startApi, type TestApi } from "../support/api";
import { expectRejected, WHO_AM_I } from "../support/authorization";
import {
  hmacKey,
  makeKeyPair,
  sign,
  startJwksServer,
  testSecret,
  uniqueSub,
  type JwksServer,
  type KeyPair,
} from "../support/tokens";

describe("HS256 with JWT_SECRET", () => {
  const secret = testSecret();
  const key = hmacKey(secret);
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({
      jwt: jwtConfig({ kind: "secret", secret }, { issuer: "https://id.example", audience: "tasks" }),
    });
  });
  afterAll(() => api.close());
  const claims = (sub: string) => ({ sub, iss: "https://id.example", aud: "tasks" });

  it("accepts a valid token and runs the request as its sub", async () => {
    const sub = uniqueSub("alice");
    const { status, body } = await api.graphql(WHO_AM_I, {}, { token: await sign(claims(sub), key) });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { currentUserId: sub } });
  });

  it("treats a request without Authorization as anonymous", async () => {
    const { status, body } = await api.graphql(WHO_AM_I);
    expect(status).toBe(200);
    expect(body.data).toEqual({ currentUserId: null });
  });

  it("accepts a lower-case bearer scheme, an audience array containing ours, and skew within tolerance", async () => {
    const sub = uniqueSub("alice");
    const now = Math.floor(Date.now() / 1000);
    const token = await sign({ ...claims(sub), aud: ["other", "tasks"], iat: now + 20, nbf: now + 20 }, key);
    const { body } = await api.graphql(WHO_AM_I, {}, { headers: { authorization: `bearer ${token}` } });
    expect(body.data).toEqual({ currentUserId: sub });
  });

  // Every way a token can be wrong is in test/security/jwt-catalogue.test.ts; one here shows the shape.
  it("rejects an expired token with 401 before any database work", async () => {
    const expired = await sign({ ...claims("alice"), exp: Math.floor(Date.now() / 1000) - 120 }, key);
    await expectRejected(api, `Bearer ${expired}`, /expired/);
  });
});

describe("a JWKS with EdDSA and RS256 keys", () => {
  let eddsa: KeyPair;
  let rs256: KeyPair;
  let jwks: JwksServer;
  let api: TestApi;

  beforeAll(async () => {
    eddsa = await makeKeyPair("EdDSA");
    rs256 = await makeKeyPair("RS256");
    jwks = await startJwksServer([eddsa.publicJwk, rs256.publicJwk]);
    api = await startApi({ jwt: jwtConfig({ kind: "jwks", url: new URL(jwks.url) }, { jwksCooldownSeconds: 0 }) });
  });
  afterAll(async () => {
    await api.close();
    await jwks.close();
  });

  it.each(["EdDSA", "RS256"])("accepts a token signed with the %s key", async (alg) => {
    const pair = alg === "EdDSA" ? eddsa : rs256;
    const sub = uniqueSub("carol");
    const token = await sign({ sub }, pair.privateKey, { alg: pair.alg, kid: pair.kid });
    expect((await api.graphql(WHO_AM_I, {}, { token })).body.data).toEqual({ currentUserId: sub });
  });

  it("picks up a rotated key (a new kid) without a restart", async () => {
    const next = await makeKeyPair("EdDSA");
    const token = await sign({ sub: "dave" }, next.privateKey, { alg: "EdDSA", kid: next.kid });
    await expectRejected(api, `Bearer ${token}`, /no known key/);
    jwks.keys = [...jwks.keys, next.publicJwk];
    expect((await api.graphql(WHO_AM_I, {}, { token })).body.data).toEqual({ currentUserId: "dave" });
  });

  it("refuses HS256 signed with the public key's bytes (key confusion)", async () => {
    const publicBytes = new TextEncoder().encode(JSON.stringify(rs256.publicJwk));
    const token = await sign({ sub: "mallory" }, publicBytes, { alg: "HS256", kid: rs256.kid });
    await expectRejected(api, `Bearer ${token}`, /algorithm/);
  });

  it("ignores jku, x5u and embedded jwk headers: the attacker's own key does not verify", async () => {
    const attacker = await makeKeyPair("EdDSA", eddsa.kid);
    for (const header of [
      { jku: "http://127.0.0.1:1/evil.json" },
      { x5u: "http://127.0.0.1:1/evil.pem" },
      { jwk: attacker.publicJwk },
    ]) {
      const token = await sign({ sub: "mallory" }, attacker.privateKey, { alg: "EdDSA", kid: eddsa.kid, header });
      await expectRejected(api, `Bearer ${token}`, /signature/);
    }
  });

  it("keeps the known keys when the JWKS endpoint fails", async () => {
    jwks.failing = true;
    try {
      const unknown = await makeKeyPair("EdDSA");
      const fetchesBefore = jwks.fetches;
      await expectRejected(
        api,
        `Bearer ${await sign({ sub: "x" }, unknown.privateKey, { alg: "EdDSA", kid: unknown.kid })}`,
        /no known key/,
      );
      expect(jwks.fetches).toBe(fetchesBefore + 1); // it did try
      const token = await sign({ sub: "erin" }, eddsa.privateKey, { alg: "EdDSA", kid: eddsa.kid });
      expect((await api.graphql(WHO_AM_I, {}, { token })).body.data).toEqual({ currentUserId: "erin" });
    } finally {
      jwks.failing = false;
    }
  });
});

describe("JWKS refetches are rate-limited", () => {
  it("fetches at most once per cooldown however many unknown kids arrive", async () => {
    const known = await makeKeyPair("EdDSA");
    const jwks = await startJwksServer([known.publicJwk]);
    const api = await startApi({
      jwt: jwtConfig({ kind: "jwks", url: new URL(jwks.url) }, { jwksCooldownSeconds: 3600 }),
    });
    try {
      expect(jwks.fetches).toBe(1); // at start-up, before any token
      const good = await sign({ sub: "frank" }, known.privateKey, { alg: "EdDSA", kid: known.kid });
      expect((await api.graphql(WHO_AM_I, {}, { token: good })).body.data).toEqual({ currentUserId: "frank" });
      for (let i = 0; i < 5; i++) {
        const stranger = await makeKeyPair("EdDSA");
        await expectRejected(
          api,
          `Bearer ${await sign({ sub: "x" }, stranger.privateKey, { alg: "EdDSA", kid: stranger.kid })}`,
          /no known key/,
        );
      }
      expect(jwks.fetches).toBe(1);
    } finally {
      await api.close();
      await jwks.close();
    }
  });
});

describe("the JWKS background refresh", () => {
  /** Polls until `condition` holds; fails after `withinMs`. */
  async function eventually(condition: () => boolean, withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("follows a rotation within JWKS_MAX_AGE with no token asking, and keeps known keys while the provider fails", async () => {
    const first = await makeKeyPair("EdDSA");
    const jwks = await startJwksServer([first.publicJwk]);
    // The cooldown keeps unknown kids from fetching: only the background refresh can learn the new key.
    const api = await startApi({
      jwt: jwtConfig({ kind: "jwks", url: new URL(jwks.url) }, { jwksMaxAgeSeconds: 1, jwksCooldownSeconds: 3600 }),
    });
    try {
      const second = await makeKeyPair("RS256");
      jwks.keys = [second.publicJwk];
      const fetched = jwks.fetches;
      await eventually(() => jwks.fetches > fetched, 3000);
      const sub = uniqueSub("rotated");
      const token = await sign({ sub }, second.privateKey, { alg: "RS256", kid: second.kid });
      expect((await api.graphql(WHO_AM_I, {}, { token })).body.data).toEqual({ currentUserId: sub });
      await expectRejected(
        api,
        `Bearer ${await sign({ sub }, first.privateKey, { alg: "EdDSA", kid: first.kid })}`,
        /no known key/,
      );

      jwks.failing = true;
      const beforeOutage = jwks.fetches;
      await eventually(() => jwks.fetches >= beforeOutage + 2, 5000); // failed refreshes, retried
      expect((await fetch(`${api.url}/health/ready`)).status).toBe(200);
      const again = await sign({ sub }, second.privateKey, { alg: "RS256", kid: second.kid });
      expect((await api.graphql(WHO_AM_I, {}, { token: again })).body.data).toEqual({ currentUserId: sub });
    } finally {
      await api.close();
      await jwks.close();
    }
  });

  it("stops refreshing once closed", async () => {
    const key = await makeKeyPair("EdDSA");
    const jwks = await startJwksServer([key.publicJwk]);
    const api = await startApi({ jwt: jwtConfig({ kind: "jwks", url: new URL(jwks.url) }, { jwksMaxAgeSeconds: 1 }) });
    await api.close();
    const fetched = jwks.fetches;
    await new Promise((resolve) => setTimeout(resolve, 1500)); // longer than JWKS_MAX_AGE: a live timer would have fetched
    expect(jwks.fetches).toBe(fetched);
    await jwks.close();
  });
});

describe("a single public key (JWT_PUBLIC_KEY)", () => {
  it("accepts its own algorithm only", async () => {
    const pair = await makeKeyPair("ES256");
    const api = await startApi({ jwt: jwtConfig({ kind: "publicKey", key: JSON.stringify(pair.publicJwk) }) });
    try {
      const sub = uniqueSub("grace");
      const token = await sign({ sub }, pair.privateKey, { alg: "ES256" });
      expect((await api.graphql(WHO_AM_I, {}, { token })).body.data).toEqual({ currentUserId: sub });
      const confused = await sign({ sub }, new TextEncoder().encode(JSON.stringify(pair.publicJwk)), { alg: "HS256" });
      await expectRejected(api, `Bearer ${confused}`, /algorithm/);
    } finally {
      await api.close();
    }
  });
});

describe("configuration", () => {
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
  };

  it("refuses a JWT_SECRET shorter than 32 bytes", () => {
    expect(problemsOf({ JWT_SECRET: "too-short" })).toEqual([expect.stringContaining("JWT_SECRET")]);
  });

  it("requires explicit database and JWT settings in production, naming each variable", () => {
    const problems = problemsOf({ NODE_ENV: "production" });
    expect(problems).toEqual([expect.stringContaining("AUTH_DATABASE_URL"), expect.stringContaining("JWT_SECRET")]);
  });

  it("refuses two key sources at once and malformed values", () => {
    expect(problemsOf({ JWT_SECRET: "x".repeat(40), JWKS_URL: "https://id.example/jwks" })).toEqual([
      expect.stringContaining("only one of"),
    ]);
    expect(problemsOf({ PORT: "http", AUTH_DATABASE_URL: "mysql://x" })).toEqual([
      expect.stringContaining("AUTH_DATABASE_URL"),
      expect.stringContaining("PORT"),
    ]);
  });

  it("reads JWT_ISSUER alone as OIDC discovery, and refuses an issuer that is not https (localhost aside)", () => {
    expect(loadConfig({ JWT_ISSUER: "https://tenant.auth0.example/" }).jwt).toMatchObject({
      source: {
        kind: "discovery",
        issuer: "https://tenant.auth0.example/",
        url: new URL("https://tenant.auth0.example/.well-known/openid-configuration"),
      },
      issuer: "https://tenant.auth0.example/",
    });
    expect(loadConfig({ JWT_ISSUER: "http://127.0.0.1:9000" }).jwt?.source.kind).toBe("discovery");
    expect(problemsOf({ JWT_ISSUER: "http://id.example.com" })).toEqual([
      expect.stringMatching(/^JWT_ISSUER must be an https URL .*"http:\/\/id\.example\.com"/),
    ]);
    expect(problemsOf({ JWT_ISSUER: "my-app" })).toEqual([expect.stringMatching(/^JWT_ISSUER must be a URL/)]);
    expect(problemsOf({ JWT_ISSUER: "https://id.example.com/?tenant=1" })).toEqual([
      expect.stringMatching(/^JWT_ISSUER must have no query/),
    ]);
    // With a key setting, JWT_ISSUER only checks iss, whatever its form.
    expect(loadConfig({ JWKS_URL: "https://id.example/jwks", JWT_ISSUER: "my-app" }).jwt).toMatchObject({
      source: { kind: "jwks" },
      issuer: "my-app",
    });
  });

  it("refuses JWT_ALGORITHMS that the key cannot verify", async () => {
    await expect(
      startApi({ jwt: jwtConfig({ kind: "secret", secret: testSecret() }, { algorithms: ["RS256"] }) }),
    ).rejects.toThrow(/JWT_ALGORITHMS/);
  });
});
