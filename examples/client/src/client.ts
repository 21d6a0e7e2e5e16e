/**
 * The urql client the example uses, and the one way it turns a failed operation into
 * an error that carries the API's stable `extensions.code` (docs/errors.md). Every
 * mutation carries a fresh `Idempotency-Key`, and one whose answer was lost (a network
 * error) or whose first attempt is still running (IDEMPOTENCY_KEY_IN_USE) is sent again
 * with the same key: the API runs it at most once and replays its response.
 */
import { randomUUID } from "node:crypto";
import {
  Client,
  fetchExchange,
  makeOperation,
  mapExchange,
  type AnyVariables,
  type CombinedError,
  type Exchange,
  type OperationResult,
  type TypedDocumentNode,
} from "@urql/core";

export interface ClientOptions {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:3000/graphql. */
  url: string;
  /** A JWT the API accepts; sent as `Authorization: Bearer …`. */
  token: string;
  /**
   * Send only each document's sha256 (Apollo's `persistedQuery` extension), for a server
   * running with TRUSTED_DOCUMENTS_DIR; the hashes come from the generated documents.
   */
  persisted?: boolean;
}

/** How `run` retries a mutation with the same Idempotency-Key. */
export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Wait before the first retry; doubled each time. */
  backoffMs?: number;
}

/** A failed operation: `code` is the API's `extensions.code`, or NETWORK_ERROR when no answer came back. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Replaces each operation's text by its hash: the server answers from its approved copy. */
const persistedDocumentsExchange: Exchange = mapExchange({
  onOperation(operation) {
    const hash = (operation.query as { __meta__?: { hash?: string } }).__meta__?.hash;
    if (!hash) throw new Error("this document has no hash: run `npm run client:codegen`");
    return makeOperation(
      operation.kind,
      {
        ...operation,
        extensions: {
          ...operation.extensions,
          persistedQuery: { version: 1, sha256Hash: hash.replace(/^sha256:/, "") },
        },
      },
      operation.context,
    );
  },
});

/** Sends an operation's `idempotencyKey` (from its context) as the Idempotency-Key header. */
const idempotencyKeyExchange: Exchange = mapExchange({
  onOperation(operation) {
    const key = operation.context.idempotencyKey;
    if (typeof key !== "string") return operation;
    const base = operation.context.fetchOptions;
    const options = (typeof base === "function" ? base() : base) ?? {};
    return makeOperation(operation.kind, operation, {
      ...operation.context,
      fetchOptions: { ...options, headers: { ...(options.headers as Record<string, string>), "idempotency-key": key } },
    });
  },
});

export function makeClient({ url, token, persisted = false }: ClientOptions): Client {
  return new Client({
    url,
    // A command-line program reads each answer once: no cache, every operation goes to the API.
    exchanges: [...(persisted ? [persistedDocumentsExchange] : []), idempotencyKeyExchange, fetchExchange],
    requestPolicy: "network-only",
    // The API takes GraphQL only as POST (urql would send short queries as GET).
    preferGetMethod: false,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  });
}

function toApiError(error: CombinedError): ApiError {
  const first = error.graphQLErrors[0];
  if (first) {
    const { code, ...extensions } = first.extensions as { code?: unknown };
    return new ApiError(typeof code === "string" ? code : "UNKNOWN", first.message, extensions);
  }
  return new ApiError("NETWORK_ERROR", error.networkError?.message ?? error.message);
}

/** The data of a successful operation; any error (even beside partial data) becomes an ApiError. */
export function dataOf<Data, Variables extends AnyVariables>(result: OperationResult<Data, Variables>): Data {
  if (result.error) throw toApiError(result.error);
  if (!result.data) throw new ApiError("NETWORK_ERROR", "the API sent no data");
  return result.data;
}

/** Worth sending again with the same key: no answer came back, or the first attempt is still running. */
function sendAgain(result: OperationResult): boolean {
  const error = result.error;
  if (!error) return false;
  if (error.graphQLErrors[0]?.extensions.code === "IDEMPOTENCY_KEY_IN_USE") return true;
  return error.networkError !== undefined && error.graphQLErrors.length === 0;
}

/**
 * Runs a query or mutation typed by its generated document. A mutation gets a fresh
 * Idempotency-Key, kept for its retries: however many attempts reach the API, it writes once.
 */
export async function run<Data, Variables extends AnyVariables>(
  client: Client,
  document: TypedDocumentNode<Data, Variables>,
  variables: Variables,
  { attempts = 4, backoffMs = 250 }: RetryOptions = {},
): Promise<Data> {
  const isMutation = document.definitions.some(
    (definition) => definition.kind === "OperationDefinition" && definition.operation === "mutation",
  );
  if (!isMutation) return dataOf(await client.query(document, variables).toPromise());
  const idempotencyKey = randomUUID();
  for (let attempt = 1; ; attempt += 1) {
    const result = await client.mutation(document, variables, { idempotencyKey }).toPromise();
    if (attempt >= attempts || !sendAgain(result)) return dataOf(result);
    await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)));
  }
}
