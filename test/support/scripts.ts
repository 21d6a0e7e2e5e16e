/** Runs one of the repository's scripts as a user would (tsx, in a child process), for tests of their messages. */
import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT_DIR } from "../../src/paths";

const TSX = path.join(ROOT_DIR, "node_modules", ".bin", "tsx");

export interface ScriptResult {
  code: number | null;
  /** stdout and stderr together. */
  output: string;
}

/** `tsx <script> ...args` with only PATH and HOME inherited, plus `env`; resolves when it exits. */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<ScriptResult> {
  const child = spawn(TSX, [script, ...args], {
    cwd: ROOT_DIR,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, output })));
}

/** True when `output` holds a stack trace's frames. */
export const hasStack = (output: string) => /\n\s+at .+:\d+:\d+\)?/.test(output);
