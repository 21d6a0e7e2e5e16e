/**
 * The db:* commands' checks on their connection strings, so a mistake is reported
 * as `npm start` reports it: one line that names the variable and says what to do,
 * never a driver's stack or error object.
 */
import { Client } from "pg";

/** A refusal the command explains in one line (printed without a stack). */
export class CommandError extends Error {}

/** Throws unless `value` parses as a postgres:// URL; returns it. */
export function postgresUrl(variable: string, value: string | undefined): string {
  if (!value) throw new CommandError(`${variable} is required (a postgres://user:password@host:5432/database URL)`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CommandError(
      `${variable} is not a connection string; expected postgres://user:password@host:5432/database ` +
        `(percent-encode @, /, : and # in the password)`,
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new CommandError(`${variable} must start with postgres:// or postgresql:// (got ${url.protocol}//)`);
  }
  return value;
}

/** The host a connection string names, as a user would recognise it; a unix socket when none. */
export function hostOf(value: string): string {
  const url = new URL(value);
  return url.hostname || url.searchParams.get("host") || "a local socket";
}

/** True for loopback addresses and unix sockets: a database on this machine. */
export function isLocal(value: string): boolean {
  const url = new URL(value);
  const host = url.hostname || url.searchParams.get("host") || "";
  return host === "" || host.startsWith("/") || ["localhost", "127.0.0.1", "[::1]", "::1"].includes(host);
}

/** One line for a failed connection, naming the variable whose value failed. */
export function connectionProblem(error: unknown, variable: string, value: string): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  const where = `${variable} (${hostOf(value)})`;
  switch (code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot find the host of ${where}: check the host name (a password containing @, / or # must be percent-encoded)`;
    case "ECONNREFUSED":
      return `nothing accepts connections at ${where}: is Postgres running, on that port?`;
    case "28P01":
    case "28000":
      return `${variable} cannot log in: ${message}; check the user name and password in ${variable}`;
    case "3D000":
      return `${variable} names a database that does not exist (${message}); \`npm run db:setup\` creates it`;
    default:
      return `cannot connect with ${where}: ${message || code || String(error)}`;
  }
}

/** Connects once with `value`, turning a failure into a CommandError naming `variable`. */
export async function checkConnection(variable: string, value: string): Promise<void> {
  const client = new Client({ connectionString: value, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {}); // a failed connect also emits; the rejection below reports it
  try {
    await client.connect();
  } catch (error) {
    throw new CommandError(connectionProblem(error, variable, value));
  } finally {
    await client.end().catch(() => {});
  }
}
