import { request, type IncomingHttpHeaders } from "node:http";
import type { TestApi } from "./api";

export const WHO_AM_I = "{ currentUserId }";

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * POSTs `{ currentUserId }` with exactly these Authorization header lines (none,
 * one, or several). node:http rather than fetch: fetch would merge two
 * Authorization headers into one.
 */
export function postWithAuthorization(url: string, authorization: string | string[]): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query: WHO_AM_I });
    // A raw header list is sent as given: Node adds no Host or Content-Length of its own.
    const rawHeaders = ["host", new URL(url).host, "content-type", "application/json"];
    rawHeaders.push("content-length", String(Buffer.byteLength(body)));
    for (const value of ([] as string[]).concat(authorization)) rawHeaders.push("authorization", value);
    const req = request(`${url}/graphql`, { method: "POST", headers: rawHeaders });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.end(body);
  });
}

/** A 401 with the catalogue's shape and a matching reason, decided without a pool connection. */
export async function expectRejected(api: TestApi, authorization: string | string[], reason: RegExp): Promise<void> {
  const before = api.connections();
  const response = await postWithAuthorization(api.url, authorization);
  const body = JSON.parse(response.body) as { errors: Array<{ extensions: { code: string; reason: string } }> };
  expect(response.status).toBe(401);
  expect(response.headers["www-authenticate"]).toMatch(/^Bearer error="invalid_token"/);
  expect(body.errors[0]!.extensions.code).toBe("UNAUTHENTICATED");
  expect(body.errors[0]!.extensions.reason).toMatch(reason);
  expect(api.connections()).toBe(before);
}
