/*
 * Connection reuse inside the API's own pool: with a single connection, requests
 * of alternating users (and anonymous ones) never see each other's identity.
 */
import { startApi, type TestApi } from "../support/api";
import { expectNoClaimsCarryOver } from "./sharedConnections";

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ poolSize: 1 });
});
afterAll(() => api.close());

it("never carries claims or role from one request to the next on a pool of one connection", async () => {
  await expectNoClaimsCarryOver(api);
  expect(api.pool.totalCount).toBe(1);
});
