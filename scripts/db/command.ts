/**
 * What the db:* commands (cli.ts, lint.ts, seed.ts) and schema.ts share: the embedded
 * development database when no URL is configured, and turning main()'s result into
 * an exit code with a one-line message instead of a stack trace.
 */
import { CommandError } from "./connect";
import { startDevDatabase, type DevDatabase } from "./dev";

/** Runs `use` against the development database, started for it (and stopped after) unless `npm start` already runs it. */
export async function withDevDatabase<T>(env: NodeJS.ProcessEnv, use: (db: DevDatabase) => Promise<T>): Promise<T> {
  if (env.NODE_ENV === "production") {
    throw new Error("DATABASE_URL is required in production (the owner's connection string)");
  }
  const raw = env.EMBEDDED_PG_PORT?.trim();
  const port = raw ? Number(raw) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw new CommandError(`EMBEDDED_PG_PORT must be an integer from 1 to 65535, got "${raw}"`);
  }
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
