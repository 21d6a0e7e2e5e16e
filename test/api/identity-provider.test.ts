/*
 * The API as deployed (src/main.ts in a process of its own) against an identity
 * provider in another process (test/support/issuer.ts: EdDSA and RS256 keys, a key
 * set and a discovery document over HTTP). Readiness must come from start-up alone:
 * no request below carries a token until the API has said it is ready.
 */
import { freePort } from "../../scripts/db/embedded";
import { refusedApiProcess, startApiProcess, startIssuer, type ApiProcess, type Issuer } from "../support/processes";
import { uniqueSub } from "../support/tokens";

jest.setTimeout(90_000);

let api: ApiProcess | undefined;
let issuer: Issuer | undefined;
afterEach(async () => {
  await api?.stop();
  await issuer?.stop();
  api = issuer = undefined;
});

/** The seconds readiness promises until the next attempt ("… next attempt in N s"). */
function promisedRetrySeconds(keys: string | undefined): number {
  const match = /next attempt in (\d+) s/.exec(keys ?? "");
  if (!match) throw new Error(`readiness does not say when it retries: ${keys}`);
  return Number(match[1]);
}

describe("JWKS_URL", () => {
  it("is ready without any request carrying a token, then accepts the provider's EdDSA and RS256 tokens", async () => {
    issuer = await startIssuer();
    api = await startApiProcess({ JWKS_URL: issuer.keysUrl, JWT_ISSUER: issuer.issuer });

    // Ready at once after listening: the keys were fetched at start-up.
    expect(await api.becomesReady(3000)).toBeLessThan(3000);
    expect(await issuer.stats()).toEqual({ jwks: 1, discovery: 0 });

    for (const alg of ["EdDSA", "RS256"] as const) {
      const sub = uniqueSub(`jwks-${alg}`);
      const { status, body } = await api.whoAmI(await issuer.mint({ sub }, alg));
      expect({ status, body }).toEqual({ status: 200, body: { data: { currentUserId: sub } } });
    }
  });

  it("is not ready while the provider is down, and becomes ready on its own when it comes up", async () => {
    const port = await freePort(); // reserved: nothing listens there yet
    api = await startApiProcess({ JWKS_URL: `http://127.0.0.1:${port}/jwks.json` });

    const down = await api.readiness();
    expect(down.status).toBe(503);
    expect(down.keys).toMatch(
      /^identity provider keys not loaded yet: the key set is unreachable \(ECONNREFUSED\); next attempt in \d+ s$/,
    );

    issuer = await startIssuer({ port });
    const before = await api.readiness();
    if (before.status === 503) {
      // The attempt it promised finds the provider: ready within that bound (plus a second of slack).
      await api.becomesReady((promisedRetrySeconds(before.keys) + 1) * 1000);
    }
    const sub = uniqueSub("late-provider");
    expect((await api.whoAmI(await issuer.mint({ sub }))).body).toEqual({ data: { currentUserId: sub } });
  });
});

describe("OIDC discovery (JWT_ISSUER alone)", () => {
  it("finds the key set through the discovery document, on another origin, and checks iss and aud exactly", async () => {
    issuer = await startIssuer({ keysPort: await freePort() });
    expect(new URL(issuer.keysUrl).origin).not.toBe(new URL(issuer.url).origin);
    api = await startApiProcess({ JWT_ISSUER: issuer.issuer, JWT_AUDIENCE: "tasks-api" });

    await api.becomesReady(3000);
    expect(await issuer.stats()).toEqual({ jwks: 1, discovery: 1 });

    const sub = uniqueSub("discovered");
    const good = await api.whoAmI(await issuer.mint({ sub, aud: "tasks-api" }, "RS256"));
    expect(good).toEqual({ status: 200, body: { data: { currentUserId: sub } } });

    // Same keys, but the issuer differs by one trailing slash: refused.
    const wrongIssuer = await api.whoAmI(await issuer.mint({ sub, aud: "tasks-api", iss: `${issuer.issuer}/` }));
    expect(wrongIssuer.status).toBe(401);
    expect(wrongIssuer.body.errors[0].extensions).toMatchObject({
      code: "UNAUTHENTICATED",
      reason: "token has the wrong issuer (iss)",
    });
    const wrongAudience = await api.whoAmI(await issuer.mint({ sub, aud: "another-api" }));
    expect(wrongAudience.body.errors[0].extensions.reason).toBe("token is not meant for this API (aud)");
  });

  it("refuses to start when the document names another issuer, naming JWT_ISSUER and both values", async () => {
    const port = await freePort();
    const configured = `http://127.0.0.1:${port}`;
    issuer = await startIssuer({ port, documentIssuer: `${configured}/` });

    const { code, output } = await refusedApiProcess({ JWT_ISSUER: configured });

    expect(code).toBe(1);
    expect(output).toContain(`Tasks API refuses to start: JWT_ISSUER is "${configured}"`);
    expect(output).toContain(`names the issuer "${configured}/"`);
    expect(output).not.toContain("Tasks API listening");
  });

  it("is not ready while the document is unreachable, then ready once it answers", async () => {
    const port = await freePort();
    api = await startApiProcess({ JWT_ISSUER: `http://127.0.0.1:${port}` });

    const down = await api.readiness();
    expect(down.status).toBe(503);
    expect(down.keys).toMatch(/the discovery document is unreachable \(ECONNREFUSED\); next attempt in \d+ s$/);

    issuer = await startIssuer({ port });
    const before = await api.readiness();
    if (before.status === 503) await api.becomesReady((promisedRetrySeconds(before.keys) + 1) * 1000);
    const sub = uniqueSub("late-discovery");
    expect((await api.whoAmI(await issuer.mint({ sub }))).body).toEqual({ data: { currentUserId: sub } });
  });

  it("exits non-zero when a document first unreachable later answers with another issuer", async () => {
    const port = await freePort();
    api = await startApiProcess({ JWT_ISSUER: `http://127.0.0.1:${port}` });
    expect((await api.readiness()).status).toBe(503);

    issuer = await startIssuer({ port, documentIssuer: "https://someone-else.example" });

    expect(await api.exit).toBe(1);
    expect(api.output()).toContain(`Tasks API stops: JWT_ISSUER is "http://127.0.0.1:${port}"`);
    expect(api.output()).toContain('names the issuer "https://someone-else.example"');
  });
});
