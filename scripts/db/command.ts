/**
 * What the db:* commands (cli.ts, lint.ts, seed.ts) and schema.ts share: the embedded
 * development database when no URL is configured, and turning main()'s result into
 * an exit code with a one-line message instead of a stack trace.
 */
import { DEFAULT_EMBEDDED_PORT } from "../../src/config";
import { startDevDatabase, type DevDatabase } from "./dev";

/** Runs `use` against the development database, started for it (and stopped after) unless `npm start` already runs it. */
export async function withDevDatabase<T>(env: NodeJS.ProcessEnv, use: (db: DevDatabase) => Promise<T>): Promise<T> {
  if (env.NODE_ENV === "production") {
    throw new Error("DATABASE_URL is required in production (the owner's connection string)");
  }
  const port = Number(env.EMBEDDED_PG_PORT ?? DEFAULT_EMBEDDED_PORT);
  const db = await startDevDatabase(port, (line) => process.stderr.write(`${line}\n`));
  try {
    return await use(db);
  } finally {
    await db.stop();
  }
}

export function runCommand(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
