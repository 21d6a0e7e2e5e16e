import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";
import { jwtConfigFor, type JwtConfig } from "../../src/config";

/** A fresh HS256 secret, as JWT_SECRET would hold. */
export const testSecret = () => randomBytes(32).toString("base64url");

/** A unique user id, so tests sharing the database never see each other's rows. */
export const uniqueSub = (name: string) => `${name}-${randomUUID()}`;

export interface SignOptions {
  alg?: string;
  kid?: string;
  /** Seconds from now; negative for the past. Default 3600. */
  expiresIn?: number | null;
  header?: Record<string, unknown>;
}

type SigningKey = Parameters<SignJWT["sign"]>[0];

/** Signs `claims` (with `iat` and `exp` unless overridden) the way an identity provider would. */
export async function sign(claims: JWTPayload, key: SigningKey, options: SignOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iat: now, ...claims };
  if (options.expiresIn !== null && !("exp" in claims)) payload.exp = now + (options.expiresIn ?? 3600);
  return new SignJWT(payload)
    .setProtectedHeader({
      alg: options.alg ?? "HS256",
      typ: "JWT",
      ...(options.kid ? { kid: options.kid } : {}),
      ...options.header,
    })
    .sign(key);
}

export const hmacKey = (secret: string) => new TextEncoder().encode(secret);

/** The HS256 secret a test API trusts unless the test configures another: fresh for each test file. */
const userSecret = testSecret();
/** userSecret as a signing key, for the tests that craft a user's token by hand (its expiry, say). */
export const userKey = hmacKey(userSecret);
/** The API's JWT settings for userSecret: what startApi uses by default. */
export const userJwt = (overrides: Partial<JwtConfig> = {}) =>
  jwtConfigFor({ kind: "secret", secret: userSecret }, overrides);

export interface User {
  sub: string;
  token: string;
}

/**
 * A signed-in user: a sub no other test uses (so tests sharing the database never
 * see each other's rows) and a valid token for it, from userSecret.
 */
export async function newUser(name: string): Promise<User> {
  const sub = uniqueSub(name);
  return { sub, token: await sign({ sub }, userKey) };
}

export interface KeyPair {
  kid: string;
  alg: string;
  privateKey: SigningKey;
  publicJwk: JWK;
}

export async function makeKeyPair(alg: "EdDSA" | "RS256" | "ES256", kid = `${alg}-${randomUUID()}`): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk };
}

/** A JWKS endpoint on 127.0.0.1 whose keys a test can change, counting how often it is fetched. */
export interface JwksServer {
  url: string;
  keys: JWK[];
  fetches: number;
  /** When set, the endpoint answers 503 (the provider is down). */
  failing: boolean;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, fetches: 0, failing: false };
  const server: Server = createServer((_req, res) => {
    state.fetches += 1;
    if (state.failing) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
