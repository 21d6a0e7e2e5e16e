/**
 * Every place the server recognises another library's error by its words, in one
 * table. Nothing here is ours to reword: each entry names the library whose text it
 * matches, and test/security/upstream.test.ts provokes that library and fails when
 * an upgrade changes the wording, before a renamed message silently turns into an
 * INTERNAL (or worse, into a message shown as is).
 */
export interface UpstreamText {
  /** The package whose wording this matches. */
  library: string;
  pattern: RegExp;
}

export const UPSTREAM = {
  /** A variable that does not coerce to its type: the message names only the request's own variable. */
  variableCoercion: { library: "graphql", pattern: /^Variable "\$/ },
  /** The hint that ends an unknown-field or unknown-type message; it describes the schema. */
  didYouMean: { library: "graphql", pattern: / ?Did you mean .*\?$/ },
  /**
   * graphql-js gives up validating: too many errors, or (its "Validation aborted." alone) a document whose
   * fields would take too long to compare (OverlappingFieldsCanBeMerged's budget).
   */
  validationAborted: { library: "graphql", pattern: /Validation aborted\.$/ },
  /** graphql-armor's refusals (depth, aliases, directives) come dressed as syntax errors. */
  armorSyntaxPrefix: {
    library: "@escape.tech/graphql-armor-max-depth, -max-aliases, -max-directives",
    pattern: /^Syntax Error: /,
  },
  /** A delete that matched no row the caller may delete (an update answers null instead). */
  nothingDeleted: { library: "@dataplan/pg", pattern: /^No values were deleted in collection '\w+'/ },
  /** connection-filter refuses `{}` and `null` operands with plain Errors (its TODO: "mark this error as safe"). */
  filterInput: {
    library: "postgraphile-plugin-connection-filter",
    pattern: /^(Empty objects|Null literals) are forbidden in filter argument input\.$/,
  },
  /** The connection closed under a query, or while connecting (pg-pool's connection timeout says it too). */
  connectionTerminated: { library: "pg, pg-pool", pattern: /^Connection terminated/ },
  /** No pool connection came free within connectionTimeoutMillis. */
  poolWaitTimeout: { library: "pg-pool", pattern: /^timeout exceeded when trying to connect/ },
  /** A query on a client whose connection already failed. */
  clientBroken: { library: "pg", pattern: /^Client has encountered a connection error/ },
  /** PgSubscriber lost its LISTEN connection and ends every subscription, as events may have been missed. */
  listenLost: { library: "@dataplan/pg", pattern: /^Underlying pubsub channel interrupted/ },
  /** The refusal of a request that is not an approved document. */
  persistedRefusal: { library: "@grafserv/persisted", pattern: /Persisted operations/ },
  /** A token with a `crit` header parameter jose does not know (a JOSENotSupported, like an unknown algorithm). */
  unknownCritHeader: { library: "jose", pattern: /Extension Header Parameter/ },
  /** body-parser's `type` for a body over the limit, and for one that is not JSON. */
  bodyTooLarge: { library: "body-parser", pattern: /^entity\.too\.large$/ },
  bodyNotJson: { library: "body-parser", pattern: /^entity\.parse\.failed$/ },
  /** body-parser's `type` for a charset it will not decode (JSON: only utf-*). */
  bodyCharset: { library: "body-parser", pattern: /^charset\.unsupported$/ },
  /** body-parser's `type` for a Content-Encoding it cannot decompress. */
  bodyEncoding: { library: "body-parser", pattern: /^encoding\.unsupported$/ },
} as const satisfies Record<string, UpstreamText>;
