/*
 * What operators rely on: readiness and liveness, one JSON log line per request
 * (with the request id, never the token), Prometheus metrics, Server-Timing,
 * security headers, CORS by allow-list and rate limits.
 */
import { freePort } from "../../scripts/db/embedded";
import { jwtConfig, startApi, type TestApi } from "../support/api";
import { newUser, sign, userKey } from "../support/tokens";

const ME = "query Me { currentUserId }";

async function post(api: TestApi, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { response, body: (await response.json()) as Record<string, any> };
}

describe("in development", () => {
  let api: TestApi;
  let sub: string;
  let token: string;
  beforeAll(async () => {
    api = await startApi();
    ({ sub, token } = await newUser("ops"));
  });
  afterAll(() => api.close());

  it("is live and ready, with every check named", async () => {
    expect(await (await fetch(`${api.url}/health/live`)).json()).toEqual({ status: "live" });
    const ready = await fetch(`${api.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: "ready",
      checks: { keys: "ok", revocations: "ok", database: "ok", migrations: "ok" },
    });
  });

  it("logs one line per request with the caller's request id, sub, operation and outcome — and never the token", async () => {
    const { response } = await post(
      api,
      { query: ME },
      { authorization: `Bearer ${token}`, "x-request-id": "trace-abc.123" },
    );
    expect(response.headers.get("x-request-id")).toBe("trace-abc.123");
    const line = api.logs.find((l) => l.msg === "request" && l.reqId === "trace-abc.123");
    expect(line).toMatchObject({ method: "POST", path: "/graphql", status: 200, sub, operation: "Me" });
    expect(typeof line!.durationMs).toBe("number");
    expect(JSON.stringify(api.logs)).not.toContain(token);
  });

  it("replaces a request id that does not look like one", async () => {
    const { response } = await post(api, { query: ME }, { "x-request-id": "no spaces allowed <script>" });
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("logs error codes and the INTERNAL error id with the request", async () => {
    // Fault injection: nothing else makes a healthy pool fail one checkout on demand.
    jest.spyOn(api.pool, "connect").mockImplementationOnce(() => Promise.reject(new Error("boom")));
    const { response, body } = await post(
      api,
      { query: "query Boom { tasks { totalCount } }" },
      { authorization: `Bearer ${token}` },
    );
    const errorId = body.errors[0].extensions.errorId as string;
    const line = api.logs.find((l) => l.msg === "request" && l.reqId === response.headers.get("x-request-id"));
    expect(line?.errors).toEqual([{ code: "INTERNAL", errorId }]);
  });

  it("sends Server-Timing with auth, database and total time", async () => {
    const { response } = await post(api, { query: "{ tasks { totalCount } }" }, { authorization: `Bearer ${token}` });
    const timing = response.headers.get("server-timing") ?? "";
    expect(timing).toMatch(/^auth;dur=[\d.]+, db;dur=[\d.]+, total;dur=[\d.]+$/);
    const [auth, db, total] = [...timing.matchAll(/dur=([\d.]+)/g)].map((m) => Number(m[1]));
    expect(db).toBeGreaterThan(0);
    expect(total).toBeGreaterThanOrEqual(auth!);
  });

  it("exports Prometheus metrics: requests by operation and code, token rejections, pool, database errors", async () => {
    await post(api, { query: ME }, { authorization: `Bearer ${token}` });
    const expired = await sign({ sub, exp: Math.floor(Date.now() / 1000) - 3600 }, userKey);
    await post(api, { query: ME }, { authorization: `Bearer ${expired}` });
    await post(
      api,
      { query: `mutation Bad { createTask(input: { task: { title: " " } }) { task { rowId } } }` },
      {
        authorization: `Bearer ${token}`,
      },
    );
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/tasks_api_requests_total\{operation="Me",code="OK"\} [1-9]/);
    expect(metrics).toMatch(/tasks_api_requests_total\{operation="Bad",code="VALIDATION_FAILED"\} 1/);
    expect(metrics).toMatch(/tasks_api_token_rejections_total\{reason="expired"\} 1/);
    expect(metrics).toMatch(/tasks_api_database_errors_total\{class="23"\} 1/);
    expect(metrics).toMatch(/tasks_api_pool_connections\{state="total"\} \d+/);
    expect(metrics).toMatch(/tasks_api_request_duration_seconds_bucket\{le="0\.1",operation="Me",code="OK"\}/);
  });

  it("counts pool checkouts: one for a signed-in request, none for a refused token", async () => {
    const checkouts = async () =>
      Number(/^tasks_api_pool_checkouts_total (\d+)$/m.exec(await (await fetch(`${api.url}/metrics`)).text())![1]);
    const start = await checkouts();
    await post(api, { query: ME }, { authorization: `Bearer ${token}` });
    const afterValid = await checkouts();
    await post(api, { query: ME }, { authorization: `Bearer ${token.slice(0, -2)}xx` });
    expect(afterValid).toBeGreaterThan(start);
    expect(await checkouts()).toBe(afterValid);
  });

  it("sets security headers", async () => {
    const { response } = await post(api, { query: ME });
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-powered-by")).toBeNull();
  });
});

describe("in production", () => {
  it("sends no Server-Timing and no CORS headers unless configured", async () => {
    const api = await startApi({ production: true });
    try {
      const { response } = await post(api, { query: ME }, { origin: "https://evil.example" });
      expect(response.headers.get("server-timing")).toBeNull();
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("content-security-policy")).toContain("default-src 'self'");
    } finally {
      await api.close();
    }
  });

  it("answers CORS only for allowed origins", async () => {
    const api = await startApi({
      production: true,
      env: { CORS_ORIGINS: "https://app.example, https://admin.example" },
    });
    try {
      const preflight = (origin: string) =>
        fetch(`${api.url}/graphql`, {
          method: "OPTIONS",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
          },
        });
      const allowed = await preflight("https://app.example");
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example");
      expect(allowed.headers.get("access-control-allow-headers")).toMatch(/Authorization/);
      const refused = await preflight("https://evil.example");
      expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await api.close();
    }
  });
});

describe("rate limits", () => {
  it("answers 429 with Retry-After per user and per anonymous IP, without touching other callers", async () => {
    const api = await startApi({
      env: { RATE_LIMIT_USER_PER_MINUTE: "3", RATE_LIMIT_ANONYMOUS_PER_MINUTE: "2" },
    });
    try {
      const { token: greedy } = await newUser("greedy");
      const { token: modest } = await newUser("modest");
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await post(api, { query: ME }, { authorization: `Bearer ${greedy}` })).response.status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await post(api, { query: ME }, { authorization: `Bearer ${greedy}` });
      expect(limited.body.errors[0].extensions).toEqual({ code: "RATE_LIMITED", retryable: true });
      // Once (fetch would join a repeated header with ", "), in seconds, within the one-minute window.
      expect(limited.response.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
      expect(Number(limited.response.headers.get("retry-after"))).toBeLessThanOrEqual(60);
      expect((await post(api, { query: ME }, { authorization: `Bearer ${modest}` })).response.status).toBe(200);

      const anonymous = [];
      for (let i = 0; i < 3; i++) anonymous.push((await post(api, { query: ME })).response.status);
      expect(anonymous).toEqual([200, 200, 429]);
    } finally {
      await api.close();
    }
  });
});

describe("readiness", () => {
  it("is 503 while the identity provider's keys have never loaded, saying why and when it retries", async () => {
    const nothingListens = await freePort();
    const api = await startApi({
      jwt: jwtConfig({ kind: "jwks", url: new URL(`http://127.0.0.1:${nothingListens}/jwks.json`) }),
    });
    try {
      const ready = await fetch(`${api.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks.keys).toMatch(
        /^identity provider keys not loaded yet: the key set is unreachable \(ECONNREFUSED\); next attempt in \d+ s$/,
      );
    } finally {
      await api.close();
    }
  });
});
