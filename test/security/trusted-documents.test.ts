/*
 * Trusted documents: with TRUSTED_DOCUMENTS_DIR set, only approved documents run,
 * asked for by their sha256; a document's text, or an unknown id, is refused.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startApi, type TestApi } from "../support/api";
import { newUser } from "../support/tokens";

const APPROVED = "query Me { currentUserId }";
const approvedId = createHash("sha256").update(APPROVED).digest("hex");
let api: TestApi;
let token: string;
let sub: string;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "trusted-"));
  writeFileSync(path.join(dir, `${approvedId}.graphql`), APPROVED);
  api = await startApi({
    production: true,
    env: { TRUSTED_DOCUMENTS_DIR: dir },
  });
  ({ sub, token } = await newUser("trusted"));
});
afterAll(() => api.close());

async function post(body: Record<string, unknown>) {
  const response = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

it("runs an approved document asked for by documentId (Relay) or persistedQuery hash (Apollo)", async () => {
  expect(await post({ documentId: approvedId })).toEqual({ status: 200, body: { data: { currentUserId: sub } } });
  const apollo = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: approvedId } } });
  expect(apollo.body).toEqual({ data: { currentUserId: sub } });
});

it("refuses the text of a document, even an approved one", async () => {
  const { status, body } = await post({ query: APPROVED });
  expect(status).toBe(400);
  // Exactly the code: grafserv's `statusCode` decides the status and stays out of the body.
  expect(body.errors).toEqual([{ message: expect.any(String), extensions: { code: "UNTRUSTED_DOCUMENT" } }]);
  expect(body.data).toBeUndefined();
});

it("refuses an unknown document id without touching the database", async () => {
  const before = api.connections();
  const { status, body } = await post({
    documentId: createHash("sha256").update("{ tasks { totalCount } }").digest("hex"),
  });
  expect(status).toBe(400);
  expect(body.errors[0].extensions.code).toBe("UNTRUSTED_DOCUMENT");
  expect(api.connections()).toBe(before);
});
