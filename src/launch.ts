/**
 * What both entry points do around the server (src/main.ts in production,
 * scripts/start.ts for `npm start`): set GRAPHILE_ENV, read and validate the
 * environment, let the entry settle the database and JWT key, then load the server
 * and start it. A bad configuration or a failed start exits 1 with a message.
 * The only server module that reads process.env.
 */
import { inspect } from "node:util";
import { ConfigError, loadConfig, type Config } from "./config";
import { setGraphileEnv } from "./graphileEnv";
import { makeLogger, type Logger } from "./logger";
import type { ServerConfig, ServerOptions } from "./server";

/** The entry's part: a database and a key for the configuration, and how to describe and stop them. */
export type Settle = (config: Config, log: Logger) => Promise<{ config: ServerConfig } & ServerOptions>;

export function launch(settle: Settle): void {
  setGraphileEnv(process.env);
  const log = makeLogger({ level: process.env.LOG_LEVEL });
  start(settle, log).catch((error: unknown) => {
    process.stderr.write(`Tasks API failed to start: ${describe(error)}\n`);
    process.exit(1);
  });
}

/** An unexpected failure as text: a stack when there is one, never a bare "undefined". */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  if (error === undefined || error === null) return "a dependency failed without giving a reason (see the lines above)";
  if (typeof error === "object") return inspect(error, { depth: 2, breakLength: Infinity });
  return String(error);
}

async function start(settle: Settle, log: Logger): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config: settled, ...options } = await settle(config, log);
  // Only now, with GRAPHILE_ENV set: the server's imports load Grafast.
  const { startServer } = await import("./server.js");
  await startServer(settled, log, options);
}
