/**
 * `npm run client:trusted-documents -- <dir>`: writes each generated persisted document
 * as `<sha256>.graphql` into <dir>, the folder the API's TRUSTED_DOCUMENTS_DIR names.
 * Deploy that folder with the server, then run the client with --persisted.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import persistedDocuments from "./gql/persisted-documents.json";

/** Writes the files and returns their names. */
export function writeTrustedDocuments(directory: string): string[] {
  mkdirSync(directory, { recursive: true });
  return Object.entries(persistedDocuments as Record<string, string>).map(([hash, document]) => {
    const file = `${hash.replace(/^sha256:/, "")}.graphql`;
    writeFileSync(path.join(directory, file), document);
    return file;
  });
}

if (require.main === module) {
  const [directory] = process.argv.slice(2);
  if (!directory) {
    process.stderr.write("usage: npm run client:trusted-documents -- <directory>\n");
    process.exit(2);
  }
  const files = writeTrustedDocuments(directory);
  process.stdout.write(`wrote ${files.length} documents to ${directory}\n`);
}
