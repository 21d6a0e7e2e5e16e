/**
 * GraphQL Code Generator settings for the example client: reads the API's committed
 * schema.graphql and the `graphql(…)` documents in src/, and writes typed documents to
 * src/gql/ plus persisted-documents.json (sha256 → document) for trusted-documents mode.
 *
 *   npm run client:codegen             regenerate after the schema or a document changes
 *   npm run client:codegen -- --check  fail when the committed output is stale
 */
import path from "node:path";
import type { CodegenConfig } from "@graphql-codegen/cli";

// Codegen resolves paths against the working directory; anchoring them here lets it run from anywhere.
const here = (relative: string) => path.relative(process.cwd(), path.join(__dirname, relative));

const config: CodegenConfig = {
  schema: here("../../schema.graphql"),
  documents: [here("src/**/*.ts"), `!${here("src/gql/**")}`],
  ignoreNoDocuments: false,
  generates: {
    [`${here("src/gql")}/`]: {
      preset: "client",
      presetConfig: {
        fragmentMasking: false,
        // The hash the server's TRUSTED_DOCUMENTS_DIR files are named by.
        persistedDocuments: { mode: "embedHashInDocument", hashAlgorithm: "sha256" },
      },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        // PostGraphile sends these as JSON strings (BigInt too, to keep its precision).
        scalars: {
          BigInt: "string",
          Cursor: "string",
          Datetime: "string",
          Tag: "string",
          UUID: "string",
        },
      },
    },
  },
};

export default config;
