/**
 * Trusted documents (persisted operations) for first-party clients: with
 * TRUSTED_DOCUMENTS_DIR set, the API runs only the documents in that folder, named
 * `<sha256 of the document>.graphql`, asked for by id (`documentId`, Relay's
 * convention, or Apollo's `extensions.persistedQuery.sha256Hash`). Anything else is
 * refused with UNTRUSTED_DOCUMENT before parsing, let alone planning.
 */
import { PersistedPlugin } from "@grafserv/persisted";
import { SafeError } from "postgraphile/grafast";
import { errorExtensions } from "../errors";
import { UPSTREAM } from "../errors/upstream";

const REFUSAL = "this server runs only approved documents: send the document's id, not its text";

/**
 * @grafserv/persisted refuses with a bare 400; this gives the refusal a catalogue code. grafserv
 * takes the status from the SafeError's `extensions.statusCode` and would show it to the client
 * with the code; graphql/grafserv.ts removes it from the body.
 */
const LabelRefusalPlugin: GraphileConfig.Plugin = {
  name: "TasksTrustedDocumentsRefusalPlugin",
  version: "1.0.0",
  before: ["PersistedPlugin"],
  grafserv: {
    middleware: {
      async processGraphQLRequestBody(next) {
        try {
          return await next();
        } catch (error) {
          if (error instanceof SafeError && UPSTREAM.persistedRefusal.pattern.test(error.message)) {
            throw new SafeError(REFUSAL, { statusCode: 400, ...errorExtensions("UNTRUSTED_DOCUMENT") });
          }
          throw error;
        }
      },
    },
  },
};

export function trustedDocumentsPreset(directory: string | undefined): GraphileConfig.Preset {
  if (!directory) return {};
  return {
    plugins: [LabelRefusalPlugin, PersistedPlugin],
    grafserv: { persistedOperationsDirectory: directory, allowUnpersistedOperation: false },
  };
}
