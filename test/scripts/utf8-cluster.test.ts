/*
 * With no locale in the environment (containers, systemd, `env -i`) initdb would choose SQL_ASCII
 * and migration 000003 would fail: the embedded clusters are initialised as UTF8 regardless.
 * Runs the test suite's own set-up (embedded cluster, roles, every migration) in a child process
 * whose environment has no LANG, LANGUAGE or LC_* variable.
 */
import { hasStack, runScript } from "../support/scripts";

it("the suite's set-up initialises a UTF8 cluster and migrates it with the locale variables removed", async () => {
  // runScript passes only PATH and HOME on, so none of LANG, LANGUAGE, LC_ALL, LC_CTYPE… reaches initdb.
  const result = await runScript("test/support/setupOnce.ts", [], { TEST_DATABASE_URL: undefined });
  expect(hasStack(result.output)).toBe(false);
  expect(result.code).toBe(0);
  const encodings = JSON.parse(result.output.trim().split("\n").pop()!) as Record<string, string>;
  expect(encodings).toEqual({ template1: "UTF8", tasks_test: "UTF8" });
}, 120_000);
