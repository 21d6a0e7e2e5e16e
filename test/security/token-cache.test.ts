/*
 * The cache of verified tokens (src/auth/tokenCache.ts) may save signature checks
 * but must never change an answer: a cached token is still refused once it
 * expires, a different token is never served another's claims, and the cache
 * stays within its bound. The clock is injected, so nothing here waits.
 */
import { makeUncachedTokenVerifier, TokenError, type TokenVerifier } from "../../src/auth/jwt";
import { withTokenCache, type TokenCacheOptions } from "../../src/auth/tokenCache";
import { makeLogger } from "../../src/logger";
import { startApi, type TestApi } from "../support/api";
import { expectRejected, WHO_AM_I } from "../support/authorization";
import { newUser, sign, uniqueSub, userJwt, userKey } from "../support/tokens";

const config = userJwt();
const log = makeLogger({ level: "silent" });

/** A cached verifier over the real one, counting the real verifications, on a clock the test moves. */
function cachedVerifier(options: Partial<TokenCacheOptions> = {}) {
  const clock = { ms: Date.now() };
  const now = () => clock.ms;
  const real = makeUncachedTokenVerifier(config, log, now);
  const counted = { calls: 0 };
  const inner: TokenVerifier = {
    keys: real.keys,
    verify: (token) => {
      counted.calls += 1;
      return real.verify(token);
    },
  };
  const verifier = withTokenCache(inner, {
    size: 100,
    maxAgeSeconds: 60,
    clockToleranceSeconds: config.clockToleranceSeconds,
    now,
    ...options,
  });
  return { verifier, clock, counted };
}

/**
 * One character of the signature swapped for another base64url character. Not the
 * last one: part of its bits are padding, so some swaps there decode to the same bytes.
 */
function oneCharacterOff(token: string): string {
  const at = token.length - 5;
  return token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1);
}

describe("the verified-token cache", () => {
  it("accepts a token it has verified before without verifying it again", async () => {
    const { verifier, counted } = cachedVerifier();
    const { sub, token } = await newUser("alice");

    const first = await verifier.verify(token);
    const second = await verifier.verify(token);

    expect(first.sub).toBe(sub);
    expect(second.sub).toBe(sub);
    expect(counted.calls).toBe(1);
  });

  it("refuses a cached token once it has expired, without anyone waiting", async () => {
    const { verifier, clock } = cachedVerifier();
    const token = await sign({ sub: uniqueSub("alice") }, userKey, { expiresIn: 60 });
    await verifier.verify(token); // cached now

    // Past exp and the 30 s clock tolerance, as jose judges it.
    clock.ms += (60 + config.clockToleranceSeconds + 1) * 1000;

    await expect(verifier.verify(token)).rejects.toMatchObject({ kind: "expired" });
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(TokenError);
  });

  it("verifies a cached token again after the maximum age, even while it is still valid", async () => {
    const { verifier, clock, counted } = cachedVerifier({ maxAgeSeconds: 5 });
    const token = await sign({ sub: uniqueSub("alice") }, userKey, { expiresIn: 3600 });
    await verifier.verify(token);

    clock.ms += 6_000;
    await verifier.verify(token);

    expect(counted.calls).toBe(2);
  });

  it("never answers one user's token with another user's claims", async () => {
    const { verifier, counted } = cachedVerifier();
    const alice = await newUser("alice");
    const bob = await newUser("bob");

    for (let round = 0; round < 3; round++) {
      expect((await verifier.verify(alice.token)).sub).toBe(alice.sub);
      expect((await verifier.verify(bob.token)).sub).toBe(bob.sub);
    }
    expect(counted.calls).toBe(2); // one entry each
  });

  it("treats a token differing by one character as a miss and refuses it", async () => {
    const { verifier, counted } = cachedVerifier();
    const { token } = await newUser("alice");
    await verifier.verify(token);

    await expect(verifier.verify(oneCharacterOff(token))).rejects.toMatchObject({ kind: "signature" });
    expect(counted.calls).toBe(2);
  });

  it("does not remember a refused token: it is checked, and refused, every time", async () => {
    const { verifier, counted } = cachedVerifier();
    const forged = oneCharacterOff((await newUser("mallory")).token);

    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(verifier.verify(forged)).rejects.toMatchObject({ kind: "signature" });
    }
    expect(counted.calls).toBe(3);
    expect(verifier.cacheSize()).toBe(0);
  });

  it("never holds more entries than its bound, evicting the least recently used first", async () => {
    const { verifier, counted } = cachedVerifier({ size: 3 });
    const users = await Promise.all(Array.from({ length: 10 }, (_, i) => newUser(`user-${i}`)));

    for (const { token } of users) {
      await verifier.verify(token);
      expect(verifier.cacheSize()).toBeLessThanOrEqual(3);
    }
    expect(verifier.cacheSize()).toBe(3);
    expect(counted.calls).toBe(10);

    await verifier.verify(users[9]!.token); // still held
    expect(counted.calls).toBe(10);
    expect((await verifier.verify(users[0]!.token)).sub).toBe(users[0]!.sub); // evicted long ago: verified again
    expect(counted.calls).toBe(11);
  });

  it("verifies every time when its size is 0", async () => {
    const { verifier, counted } = cachedVerifier({ size: 0 });
    const { token } = await newUser("alice");

    await verifier.verify(token);
    await verifier.verify(token);

    expect(counted.calls).toBe(2);
    expect(verifier.cacheSize()).toBe(0);
  });
});

describe.each([
  ["the cache on (the default)", {}],
  ["the cache disabled (TOKEN_CACHE_SIZE=0)", { cacheSize: 0 }],
])("the API with %s", (_name, overrides) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ jwt: userJwt(overrides) });
  });
  afterAll(() => api.close());

  it("answers each of two interleaved users as themselves, request after request", async () => {
    const alice = await newUser("alice");
    const bob = await newUser("bob");

    for (let round = 0; round < 3; round++) {
      const [asAlice, asBob] = await Promise.all([
        api.graphql(WHO_AM_I, {}, { token: alice.token }),
        api.graphql(WHO_AM_I, {}, { token: bob.token }),
      ]);
      expect(asAlice.body).toEqual({ data: { currentUserId: alice.sub } });
      expect(asBob.body).toEqual({ data: { currentUserId: bob.sub } });
    }
  });

  it("refuses a token one character off a cached one, with 401 and no database work", async () => {
    const { token } = await newUser("alice");
    expect((await api.graphql(WHO_AM_I, {}, { token })).status).toBe(200);

    await expectRejected(api, `Bearer ${oneCharacterOff(token)}`, /signature/);
  });
});
