import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ROOT_DIR } from "../paths";

const COMMITTED_DIR = path.join(ROOT_DIR, "migrations", "committed");

/** The `--! Hash:` of the newest committed migration: the level this code expects the database at. */
export function latestCommittedMigrationHash(): string {
  const newest = readdirSync(COMMITTED_DIR)
    .filter((name) => name.endsWith(".sql"))
    .sort()
    .at(-1);
  const hash = newest && /^--! Hash: (\S+)$/m.exec(readFileSync(path.join(COMMITTED_DIR, newest), "utf8"))?.[1];
  if (!hash) throw new Error(`no committed migration with a hash in ${COMMITTED_DIR}`);
  return hash;
}
