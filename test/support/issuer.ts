/**
 * A small identity provider for tests, run as a process of its own
 * (`tsx test/support/issuer.ts`): EdDSA and RS256 keys made with jose, its key set
 * at /jwks.json, an OpenID Connect discovery document, and POST /token to mint a
 * token the way a provider would. Configured by the environment:
 *   ISSUER_PORT       port on 127.0.0.1 (0: any free one)
 *   ISSUER            the issuer its tokens carry (default http://127.0.0.1:<port>)
 *   DOCUMENT_ISSUER   the `issuer` its discovery document states (default ISSUER)
 *   KEYS_PORT         serve the key set from this other port (another origin) instead
 * Prints one JSON line `{"url":…,"keysUrl":…,"issuer":…}` once listening.
 * GET /stats counts the requests for the key set and the discovery document.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";

type Alg = "EdDSA" | "RS256";

async function main(): Promise<void> {
  const pairs = await Promise.all(
    (["EdDSA", "RS256"] as Alg[]).map(async (alg) => {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const kid = `${alg}-${process.pid}`;
      return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
    }),
  );
  const stats = { jwks: 0, discovery: 0 };
  const keySet = JSON.stringify({ keys: pairs.map((pair) => pair.publicJwk) });

  const serveKeys = (res: ServerResponse) => {
    stats.jwks += 1;
    res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=600" }).end(keySet);
  };
  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const readBody = async (req: IncomingMessage): Promise<Record<string, any>> => {
    let text = "";
    for await (const chunk of req) text += chunk;
    return text ? JSON.parse(text) : {};
  };

  let issuer = "";
  let documentIssuer = "";
  let keysUrl = "";
  const keysPort = process.env.KEYS_PORT;
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (req.method === "GET" && path === "/jwks.json" && !keysPort) return serveKeys(res);
      if (req.method === "GET" && path === "/.well-known/openid-configuration") {
        stats.discovery += 1;
        return json(res, 200, {
          issuer: documentIssuer,
          jwks_uri: keysUrl,
          id_token_signing_alg_values_supported: ["EdDSA", "RS256"],
        });
      }
      if (req.method === "GET" && path === "/stats") return json(res, 200, stats);
      if (req.method === "POST" && path === "/token") {
        const { claims = {}, alg = "EdDSA" } = await readBody(req);
        const pair = pairs.find((candidate) => candidate.alg === alg)!;
        const now = Math.floor(Date.now() / 1000);
        const payload: JWTPayload = { iss: issuer, iat: now, exp: now + 600, ...claims };
        const token = await new SignJWT(payload)
          .setProtectedHeader({ alg: pair.alg, kid: pair.kid, typ: "JWT" })
          .sign(pair.privateKey);
        return json(res, 200, { token });
      }
      json(res, 404, { error: "not found" });
    })().catch((error: unknown) => json(res, 500, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(Number(process.env.ISSUER_PORT ?? 0), "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = process.env.ISSUER ?? url;
  documentIssuer = process.env.DOCUMENT_ISSUER ?? issuer;
  keysUrl = `${url}/jwks.json`;
  if (keysPort) {
    const keys = createServer((req, res) => (req.url === "/jwks.json" ? serveKeys(res) : json(res, 404, {})));
    await new Promise<void>((resolve) => keys.listen(Number(keysPort), "127.0.0.1", resolve));
    keysUrl = `http://127.0.0.1:${(keys.address() as AddressInfo).port}/jwks.json`;
  }
  process.stdout.write(`${JSON.stringify({ url, keysUrl, issuer })}\n`);
  process.once("SIGTERM", () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`issuer failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
