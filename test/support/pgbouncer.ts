import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../scripts/db/embedded";

/** Debian's pgbouncer, when installed (.ci/run installs it; `apt-get install pgbouncer` locally). */
export const PGBOUNCER = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].find(
  (candidate) => spawnSync(candidate, ["--version"]).status === 0,
);

export interface PgBouncer {
  /** `url` with its host and port replaced by the bouncer's. */
  through(url: string): string;
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer in transaction pooling mode on a loopback port in front of the
 * database in `url` — the deployment Neon's pooled endpoint and most managed
 * Postgres offer. `logins` are the users it may pass through, with their passwords.
 */
export async function startPgBouncer(
  url: string,
  logins: Array<{ user: string; password: string }>,
): Promise<PgBouncer> {
  if (!PGBOUNCER) throw new Error("pgbouncer is not installed (apt-get install pgbouncer)");
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.slice(1));
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "pgbouncer-"));
  chmodSync(dir, 0o755); // pgbouncer drops root privileges and must still read its files
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  writeFileSync(
    path.join(dir, "userlist.txt"),
    logins.map((l) => `${quote(l.user)} ${quote(l.password)}`).join("\n") + "\n",
  );
  writeFileSync(
    path.join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `${database} = host=${target.hostname} port=${target.port} dbname=${database}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = scram-sha-256",
      `auth_file = ${path.join(dir, "userlist.txt")}`,
      "pool_mode = transaction",
      "default_pool_size = 2",
      "max_client_conn = 200",
      "ignore_startup_parameters = extra_float_digits,options",
      "",
    ].join("\n"),
  );
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(
    PGBOUNCER,
    [...(asRoot ? ["-u", "postgres"] : []), path.join(dir, "pgbouncer.ini")],
    // It logs to stderr; kept for the error message if it fails to start.
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitForPort(port).catch((error: Error) => {
    child.kill("SIGKILL");
    throw new Error(`${error.message}: ${stderr}`);
  });
  return {
    through(u) {
      const routed = new URL(u);
      routed.hostname = "127.0.0.1";
      routed.port = String(port);
      return routed.toString();
    },
    async stop() {
      child.kill("SIGINT");
      await exited;
    },
  };
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port}`);
}
