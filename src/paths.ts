import path from "node:path";

/**
 * The repository root: where .gmrc, migrations/ and the git-ignored .data/ live. This file
 * runs from src/ (tsx) or dist/ (`npm run build`), both one level below the root.
 */
export const ROOT_DIR = path.resolve(__dirname, "..");

/** Local state that must never be committed: embedded clusters, dev secrets. */
export const DATA_DIR = path.join(ROOT_DIR, ".data");
