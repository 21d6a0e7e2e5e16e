/* `npm run token -- alice 7d` as the README documents it; a lifetime jose cannot read is one line, not a stack. */
import { decodeJwt } from "jose";
import { hasStack, runScript } from "../support/scripts";

it("mints a token for the given sub and lifetime", async () => {
  const result = await runScript("scripts/token.ts", ["alice", "7d"], { JWT_SECRET: "a-test-secret" });
  expect(result.code).toBe(0);
  const claims = decodeJwt(result.output.trim());
  expect(claims.sub).toBe("alice");
  expect(claims.exp! - claims.iat!).toBe(7 * 86_400);
});

it("refuses a lifetime it cannot read with a usage line", async () => {
  const result = await runScript("scripts/token.ts", ["alice", "forever"], { JWT_SECRET: "a-test-secret" });
  expect(result.code).toBe(2);
  expect(result.output).toMatch(/^token: lifetime must be a number and a unit such as 30m, 1h or 7d/);
  expect(hasStack(result.output)).toBe(false);
});
