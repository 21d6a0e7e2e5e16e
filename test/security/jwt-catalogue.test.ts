/*
 * The JWT attack catalogue: hostile and malformed tokens and headers, each of
 * which must get 401 UNAUTHENTICATED before any database work, and the unusual
 * but legitimate ones that must be accepted. Modelled on PostgREST's JWT tests and
 * the OWASP JWT cheat sheet. The closing line prints tried / rejected / accepted.
 */
import { createHmac } from "node:crypto";
import { generateKeyPair, exportSPKI } from "jose";
import { OWNER_ROLE } from "../../scripts/db/names";
import { jwtConfig, startApi, type TestApi } from "../support/api";
import { expectRejected, postWithAuthorization } from "../support/authorization";
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

const ISSUER = "https://id.example";
const AUDIENCE = "tasks";
const secret = testSecret();
const key = hmacKey(secret);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const good = (extra: Record<string, unknown> = {}) => ({ sub: "mallory", iss: ISSUER, aud: AUDIENCE, ...extra });
/** A correctly HS256-signed token with any header and payload text, where jose would refuse to sign. */
const rawHs256 = (header: unknown, payload: unknown) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
};
/** A token signed with the right secret, then changed without re-signing. */
const resigned = async (mutate: (parts: string[]) => string[]) =>
  mutate((await sign(good(), key)).split(".")).join(".");

let hs: TestApi;
let jwks: JwksServer;
let asym: TestApi;
let eddsa: KeyPair;
let rs256: KeyPair;
let rsaPem: string;
const counts = { tried: 0, rejected: 0, accepted: 0 };

beforeAll(async () => {
  hs = await startApi({ jwt: jwtConfig({ kind: "secret", secret }, { issuer: ISSUER, audience: AUDIENCE }) });
  eddsa = await makeKeyPair("EdDSA");
  rs256 = await makeKeyPair("RS256");
  jwks = await startJwksServer([eddsa.publicJwk, rs256.publicJwk]);
  asym = await startApi({ jwt: jwtConfig({ kind: "jwks", url: new URL(jwks.url) }) });
  const { publicKey } = await generateKeyPair("RS256", { extractable: true });
  rsaPem = await exportSPKI(publicKey);
});
afterAll(async () => {
  await Promise.all([hs.close(), asym.close()]);
  await jwks.close();
  process.stdout.write(
    `JWT catalogue: ${counts.tried} tried, ${counts.rejected} rejected and ${counts.accepted} accepted, as intended\n`,
  );
});

type Case = [name: string, header: () => Promise<string | string[]>, reason: RegExp];

const againstSecret: Case[] = [
  [
    "alg none, unsigned",
    async () => `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64(good({ exp: now() + 60 }))}.`,
    /algorithm/,
  ],
  [
    "alg None (capitalised)",
    async () => `Bearer ${b64({ alg: "None" })}.${b64(good({ exp: now() + 60 }))}.`,
    /algorithm/,
  ],
  [
    "alg none with a signature",
    async () => `Bearer ${await resigned(([, p, s]) => [b64({ alg: "none" }), p!, s!])}`,
    /algorithm/,
  ],
  ["HS512 with the right secret", async () => `Bearer ${await sign(good(), key, { alg: "HS512" })}`, /algorithm/],
  ["HS384 with the right secret", async () => `Bearer ${await sign(good(), key, { alg: "HS384" })}`, /algorithm/],
  ["HS256 with a wrong secret", async () => `Bearer ${await sign(good(), hmacKey(testSecret()))}`, /signature/],
  ["the signature stripped", async () => `Bearer ${await resigned(([h, p]) => [h!, p!, ""])}`, /signature|malformed/],
  [
    "another token's signature",
    async () => {
      const other = (await sign(good({ sub: "someone" }), key)).split(".")[2]!;
      return `Bearer ${await resigned(([h, p]) => [h!, p!, other])}`;
    },
    /signature/,
  ],
  [
    "the payload changed after signing",
    async () => `Bearer ${await resigned(([h, , s]) => [h!, b64(good({ sub: "admin", exp: now() + 60 })), s!])}`,
    /signature/,
  ],
  [
    "the header changed after signing",
    async () => `Bearer ${await resigned(([, p, s]) => [b64({ alg: "HS256", kid: "x" }), p!, s!])}`,
    /signature/,
  ],
  [
    "an unknown critical header",
    async () => `Bearer ${rawHs256({ alg: "HS256", crit: ["exp-ext"], "exp-ext": 1 }, good({ exp: now() + 60 }))}`,
    /critical/,
  ],
  ["expired", async () => `Bearer ${await sign(good({ exp: now() - 3600 }), key)}`, /expired/],
  ["expired just beyond the tolerance", async () => `Bearer ${await sign(good({ exp: now() - 35 }), key)}`, /expired/],
  ["not valid until later (nbf)", async () => `Bearer ${await sign(good({ nbf: now() + 600 }), key)}`, /not valid yet/],
  [
    "issued in the future beyond the tolerance",
    async () => `Bearer ${await sign(good({ iat: now() + 600 }), key)}`,
    /future/,
  ],
  ["exp as a string", async () => `Bearer ${await sign(good({ exp: String(now() + 600) }), key)}`, /"exp"/],
  ["nbf as a string", async () => `Bearer ${await sign(good({ nbf: "yesterday" }), key)}`, /"nbf"/],
  ["iat as a string", async () => `Bearer ${await sign(good({ iat: "now" }), key)}`, /"iat"/],
  ["no exp", async () => `Bearer ${await sign(good(), key, { expiresIn: null })}`, /"exp"/],
  ["the wrong issuer", async () => `Bearer ${await sign(good({ iss: "https://evil.example" }), key)}`, /\(iss\)/],
  ["no issuer", async () => `Bearer ${await sign({ sub: "mallory", aud: AUDIENCE }, key)}`, /"iss"/],
  ["the wrong audience", async () => `Bearer ${await sign(good({ aud: "billing" }), key)}`, /\(aud\)/],
  ["no audience", async () => `Bearer ${await sign({ sub: "mallory", iss: ISSUER }, key)}`, /"aud"/],
  [
    "an audience array without ours",
    async () => `Bearer ${await sign(good({ aud: ["billing", "crm"] }), key)}`,
    /\(aud\)/,
  ],
  ["an empty audience array", async () => `Bearer ${await sign(good({ aud: [] }), key)}`, /\(aud\)/],
  ["no sub", async () => `Bearer ${await sign({ iss: ISSUER, aud: AUDIENCE }, key)}`, /"sub"/],
  ["an empty sub", async () => `Bearer ${await sign(good({ sub: "" }), key)}`, /non-empty/],
  ["a numeric sub", async () => `Bearer ${await sign(good({ sub: 42 }), key)}`, /"sub"/],
  ["an object sub", async () => `Bearer ${await sign(good({ sub: { id: "alice" } }), key)}`, /"sub"/],
  ["a null sub", async () => `Bearer ${await sign(good({ sub: null }), key)}`, /"sub"/],
  ["a 256-character sub", async () => `Bearer ${await sign(good({ sub: "x".repeat(256) }), key)}`, /longer than 255/],
  ["one segment", async () => "Bearer abcdef", /Bearer <JWT>/],
  ["two segments", async () => `Bearer ${b64({ alg: "HS256" })}.${b64(good())}`, /Bearer <JWT>/],
  ["four segments", async () => `Bearer ${await sign(good(), key)}.extra`, /Bearer <JWT>/],
  ["characters outside base64url", async () => "Bearer ey+J/.ey=J.sig!", /Bearer <JWT>/],
  ["a header that is not JSON", async () => `Bearer ${b64("not json")}.${b64(good())}.c2ln`, /malformed/],
  ["a payload that is not JSON", async () => `Bearer ${rawHs256({ alg: "HS256" }, "{sub: alice")}`, /malformed/],
  ["a payload that is an array", async () => `Bearer ${rawHs256({ alg: "HS256" }, ["sub", "alice"])}`, /malformed/],
  ["an oversized token", async () => `Bearer ${await sign(good({ pad: "x".repeat(9000) }), key)}`, /longer than 8192/],
  ["the Basic scheme", async () => "Basic bWFsbG9yeTpodW50ZXIy", /Bearer <JWT>/],
  ["the Token scheme", async () => `Token ${await sign(good(), key)}`, /Bearer <JWT>/],
  ["a bare token without a scheme", async () => sign(good(), key), /Bearer <JWT>/],
  ["Bearer with nothing after it", async () => "Bearer", /Bearer <JWT>/],
  [
    "two Authorization headers",
    async () => [`Bearer ${await sign(good(), key)}`, `Bearer ${await sign(good(), key)}`],
    /exactly one/,
  ],
  [
    "two tokens in one header",
    async () => `Bearer ${await sign(good(), key)}, Bearer ${await sign(good(), key)}`,
    /Bearer <JWT>/,
  ],
];

const againstKeySet: Case[] = [
  [
    "HS256 signed with an RSA public key's PEM (key confusion)",
    async () => `Bearer ${await sign({ sub: "m" }, hmacKey(rsaPem), { kid: rs256.kid })}`,
    /algorithm/,
  ],
  [
    "HS256 signed with the published JWK's bytes",
    async () => `Bearer ${await sign({ sub: "m" }, hmacKey(JSON.stringify(rs256.publicJwk)))}`,
    /algorithm/,
  ],
  [
    "an unknown kid",
    async () => {
      const stranger = await makeKeyPair("EdDSA");
      return `Bearer ${await sign({ sub: "m" }, stranger.privateKey, { alg: "EdDSA", kid: stranger.kid })}`;
    },
    /no known key/,
  ],
  [
    "no kid, signed by a stranger",
    async () => {
      const stranger = await makeKeyPair("RS256");
      return `Bearer ${await sign({ sub: "m" }, stranger.privateKey, { alg: "RS256" })}`;
    },
    /signature|no known key/,
  ],
  [
    "a jku header pointing at the attacker's keys",
    async () => {
      const attacker = await makeKeyPair("EdDSA");
      return `Bearer ${await sign({ sub: "m" }, attacker.privateKey, { alg: "EdDSA", kid: eddsa.kid, header: { jku: "http://127.0.0.1:9/jwks" } })}`;
    },
    /signature/,
  ],
  [
    "an x5u header pointing at the attacker's certificate",
    async () => {
      const attacker = await makeKeyPair("EdDSA");
      return `Bearer ${await sign({ sub: "m" }, attacker.privateKey, { alg: "EdDSA", kid: eddsa.kid, header: { x5u: "http://127.0.0.1:9/cert.pem" } })}`;
    },
    /signature/,
  ],
  [
    "the attacker's key embedded as a jwk header",
    async () => {
      const attacker = await makeKeyPair("EdDSA");
      return `Bearer ${await sign({ sub: "m" }, attacker.privateKey, { alg: "EdDSA", kid: eddsa.kid, header: { jwk: attacker.publicJwk } })}`;
    },
    /signature/,
  ],
  [
    "RS256 claimed for the EdDSA key's kid",
    async () => {
      const attacker = await makeKeyPair("RS256");
      return `Bearer ${await sign({ sub: "m" }, attacker.privateKey, { alg: "RS256", kid: eddsa.kid })}`;
    },
    /no known key/,
  ],
];

describe("rejected with 401 before any database work", () => {
  it.each(againstSecret)("HS256 configuration: %s", async (_name, header, reason) => {
    counts.tried += 1;
    await expectRejected(hs, await header(), reason);
    counts.rejected += 1;
  });

  it.each(againstKeySet)("JWKS configuration: %s", async (_name, header, reason) => {
    counts.tried += 1;
    await expectRejected(asym, await header(), reason);
    counts.rejected += 1;
  });
});

describe("accepted as intended", () => {
  async function expectAccepted(api: TestApi, authorization: string, sub: string): Promise<void> {
    counts.tried += 1;
    const response = await postWithAuthorization(api.url, authorization);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { currentUserId: sub } });
    counts.accepted += 1;
  }
  const sub = uniqueSub("alice");

  it("a plain valid token", async () => expectAccepted(hs, `Bearer ${await sign(good({ sub }), key)}`, sub));
  it("the scheme in lower case", async () => expectAccepted(hs, `bearer ${await sign(good({ sub }), key)}`, sub));
  it("the scheme in upper case", async () => expectAccepted(hs, `BEARER ${await sign(good({ sub }), key)}`, sub));
  it("an audience array containing ours", async () =>
    expectAccepted(hs, `Bearer ${await sign(good({ sub, aud: ["billing", AUDIENCE] }), key)}`, sub));
  it("exp passed by less than the tolerance", async () =>
    expectAccepted(hs, `Bearer ${await sign(good({ sub, exp: now() - 10 }), key)}`, sub));
  it("nbf and iat ahead by less than the tolerance", async () =>
    expectAccepted(hs, `Bearer ${await sign(good({ sub, nbf: now() + 10, iat: now() + 10 }), key)}`, sub));
  it("a sub of exactly 255 characters", async () => {
    const long = "a".repeat(255);
    await expectAccepted(hs, `Bearer ${await sign(good({ sub: long }), key)}`, long);
  });
  it("RS256 and EdDSA tokens from the key set", async () => {
    await expectAccepted(
      asym,
      `Bearer ${await sign({ sub }, rs256.privateKey, { alg: "RS256", kid: rs256.kid })}`,
      sub,
    );
    await expectAccepted(
      asym,
      `Bearer ${await sign({ sub }, eddsa.privateKey, { alg: "EdDSA", kid: eddsa.kid })}`,
      sub,
    );
  });

  it("a role claim, which is ignored: the request still runs as the user role", async () => {
    const token = await sign(good({ sub, role: OWNER_ROLE }), key);
    await expectAccepted(hs, `Bearer ${token}`, sub);
    // As the owner or a superuser this would fail differently (the owner sees no rows; a
    // superuser sees all): the user role sees exactly its own rows, none here.
    const { body } = await hs.graphql(`{ tasks { totalCount } }`, {}, { token });
    expect(body).toEqual({ data: { tasks: { totalCount: 0 } } });
  });
});

it("covers at least 40 hostile tokens and headers", () => {
  expect(againstSecret.length + againstKeySet.length).toBeGreaterThanOrEqual(40);
});
