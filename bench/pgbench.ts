/**
 * The database's own limit: pgbench running the floor's transaction — the same
 * settings, the same SQL as the API — as the authenticator, with as many clients as
 * the API has pool connections, prepared statements like PostGraphile's.
 *
 * Two mechanical changes pgbench forces, neither changing the work: the to_char format
 * literal becomes a bound variable (pgbench would read its `:MI`, `:SS` … as variables),
 * and the task id is the seed's md5 expression of the random user (pgbench has no
 * per-client value to bind).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { BENCH_PREFIX } from "./seed";
import type { RunClock, Scenario } from "./scenarios";
import { CREATED_TITLE, UPDATED_TITLE } from "./scenarios";
import { summarize, type Measurement } from "./stats";

const execFileAsync = promisify(execFile);
const PGBENCH = process.env.PGBENCH ?? "/usr/bin/pgbench";
const TIMESTAMP_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text`;

export function checkPgbench(): void {
  if (!existsSync(PGBENCH)) {
    throw new Error(`pgbench not found at ${PGBENCH}: apt-get install postgresql-client (or set PGBENCH)`);
  }
}

export interface PgbenchOptions {
  authUrl: string;
  /** Seeded users; each transaction picks one at random. */
  users: number;
  clients: number;
  seconds: number;
  userRole: string;
  statementTimeoutMs: number;
  clock: RunClock;
}

/** The pgbench script of one scenario: the floor's transaction. */
export function pgbenchScript(
  scenario: Scenario,
  options: Pick<PgbenchOptions, "users" | "userRole" | "statementTimeoutMs">,
): string {
  const statements = scenario.sql.map((statement) => {
    let text = statement.text.split(TIMESTAMP_FORMAT).join(":timestamp_format::text");
    // Highest first, so $1 does not eat the start of $10.
    for (let i = statement.pgbench.length; i >= 1; i--) text = text.split(`$${i}`).join(statement.pgbench[i - 1]!);
    if (/\$\d/.test(text)) throw new Error(`${scenario.name}: a parameter has no pgbench expression`);
    return `${text};`;
  });
  return [
    `\\set user random(1, ${options.users})`,
    "begin;",
    `select set_config('role', '${options.userRole}', true), ` +
      `set_config('request.jwt.claims', '{"sub":"${BENCH_PREFIX}' || :user::text || '"}', true), ` +
      `set_config('statement_timeout', '${options.statementTimeoutMs}', true);`,
    ...statements,
    "commit;",
    "",
  ].join("\n");
}

export async function runPgbench(scenario: Scenario, options: PgbenchOptions): Promise<Measurement> {
  const dir = await mkdtemp(path.join(tmpdir(), "tasks-pgbench-"));
  try {
    const script = path.join(dir, "scenario.sql");
    await writeFile(script, pgbenchScript(scenario, options));
    const url = new URL(options.authUrl);
    const variables = {
      now: options.clock.now,
      week_end: options.clock.weekEnd,
      no: "false",
      created_title: CREATED_TITLE,
      updated_title: UPDATED_TITLE,
      medium: "medium",
      timestamp_format: TIMESTAMP_FORMAT.slice(1, TIMESTAMP_FORMAT.indexOf("'", 1)),
    };
    const args = [
      "-n",
      "-M",
      "prepared",
      "-c",
      String(options.clients),
      "-j",
      String(Math.min(2, options.clients)),
      "-T",
      String(options.seconds),
      "-f",
      script,
      "-l",
      `--log-prefix=${path.join(dir, "log")}`,
      ...Object.entries(variables).flatMap(([name, value]) => ["-D", `${name}=${value}`]),
    ];
    const { stdout } = await execFileAsync(PGBENCH, args, {
      env: {
        ...process.env,
        PGHOST: url.hostname,
        PGPORT: url.port,
        PGUSER: decodeURIComponent(url.username),
        PGPASSWORD: decodeURIComponent(url.password),
        PGDATABASE: decodeURIComponent(url.pathname.slice(1)),
        // The per-connection setting @dataplan/pg applies, as the floor does.
        PGOPTIONS: "-c jit_optimize_above_cost=-1",
      },
      maxBuffer: 16 * 2 ** 20,
    }).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`pgbench failed for ${scenario.name}: ${error.stderr || error.message}`);
    });
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    // One line per transaction: client, number, latency (µs), script, epoch seconds, µs.
    const latenciesMs: number[] = [];
    for (const file of (await readdir(dir)).filter((f) => f.startsWith("log"))) {
      for (const line of (await readFile(path.join(dir, file), "utf8")).split("\n")) {
        const fields = line.split(" ");
        if (fields.length >= 6) latenciesMs.push(Number(fields[2]) / 1000);
      }
    }
    if (latenciesMs.length === 0) throw new Error(`pgbench ran no transaction for ${scenario.name}:\n${stdout}`);
    return summarize(latenciesMs, options.seconds, failed);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
