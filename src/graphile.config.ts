/**
 * The PostGraphile V5 preset: what GraphQL API is generated from `app_public`,
 * and how each request's identity reaches Postgres.
 */
import { PgAggregatesPreset } from "@graphile/pg-aggregates";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import type { Pool } from "pg";
import { makePgService, type PgSubscriber } from "postgraphile/adaptors/pg";
import { makeFairShare, shareKeyOf, withinShare } from "./db/fairShare";
import { requestTransactionsAdaptor } from "./db/requestTransactions";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";
import { identityOf } from "./auth/identity";
import type { AppConfig } from "./config";
import { makeMaskError } from "./errors/mask";
import { CountAggregatePlugin } from "./graphql/countAggregate";
import { makeDefaultPagePlugin } from "./graphql/defaultPage";
import { HavingResultTypePlugin } from "./graphql/havingTypes";
import { makeIdempotencyPlugin } from "./graphql/idempotency";
import { makeLimitsPlugin } from "./graphql/limits";
import { makeRowBudget } from "./graphql/rowBudget";
import { makeMaskingPlugin } from "./graphql/masking";
import { NamingPreset } from "./graphql/naming";
import { NotFoundPlugin } from "./graphql/notFound";
import { NoNaturalOrderPlugin } from "./graphql/orders";
import { VersionsPlugin } from "./graphql/versions";
import { SubscriptionsPlugin } from "./graphql/subscriptions";
import { trustedDocumentsPreset } from "./graphql/trustedDocuments";
import { makeResponsePlugin } from "./graphql/response";
import { makeRevocationPlugin } from "./graphql/revocation";
import type { Revocations } from "./auth/revocation";
import type { Logger } from "./logger";
import { changeChannelsFor } from "./realtime/channels";

export interface PresetOptions {
  /** The authenticator's pool; every request borrows from it. */
  pool: Pool;
  /** LISTENs for live updates on a connection of its own; without it, subscriptions are refused. */
  pgSubscriber?: PgSubscriber;
  /** The revocation cut-offs; revokeMyTokens waits for this process to hear its own (graphql/revocation.ts). */
  revocations?: Revocations;
  config: AppConfig;
  log: Logger;
}

/** Filter operators clients may use: each is index-friendly or cheap on one user's rows. */
const FILTER_OPERATORS = [
  "isNull",
  "equalTo",
  "notEqualTo",
  "in",
  "notIn",
  "lessThan",
  "lessThanOrEqualTo",
  "greaterThan",
  "greaterThanOrEqualTo",
  "includesInsensitive",
  "contains",
  "overlaps",
];

export function makePreset({ pool, pgSubscriber, revocations, config, log }: PresetOptions): GraphileConfig.Preset {
  const { production, roles, limits } = config;
  const maskError = makeMaskError({ production, log });
  const statementTimeout = String(config.statementTimeoutMs);
  const share = makeFairShare(fairShareOptions(config.fairShare, pool.options.max ?? 10));
  return {
    extends: [
      PostGraphileAmberPreset,
      PgSimplifyInflectionPreset,
      PgAggregatesPreset,
      PostGraphileConnectionFilterPreset,
      NamingPreset,
      trustedDocumentsPreset(config.trustedDocumentsDir),
    ],
    plugins: [
      VersionsPlugin,
      NotFoundPlugin,
      NoNaturalOrderPlugin,
      CountAggregatePlugin,
      HavingResultTypePlugin,
      SubscriptionsPlugin,
      makeDefaultPagePlugin(limits.defaultPageSize),
      makeLimitsPlugin(limits, {
        introspection: !production,
        rowBudget: makeRowBudget({
          perMinute: config.rateLimits.rowsPerMinute,
          burst: Math.max(limits.cost, limits.subscriptionCost),
        }),
      }),
      // After the limits (a refused operation claims no key), before the response plugin, so its
      // processRequest sees the final status and body (503, 429) before recording them.
      makeIdempotencyPlugin({ share, log }),
      makeMaskingPlugin(maskError),
      makeResponsePlugin(maskError, { maxResponseBytes: config.maxResponseBytes }),
      ...(revocations ? [makeRevocationPlugin(revocations)] : []),
    ],
    pgServices: [
      {
        ...makePgService({
          pool,
          ...(pgSubscriber ? { pgSubscriber } : { pubsub: false }),
          schemas: ["app_public"],
          // Introspect as a signed-in user, so the schema offers exactly what that role was granted.
          pgSettingsForIntrospection: { role: roles.user },
        }),
        // Identity and transaction in one round trip (db/requestTransactions.ts).
        adaptor: requestTransactionsAdaptor,
      },
    ],
    schema: {
      connectionFilterAllowedOperators: FILTER_OPERATORS,
      connectionFilterRelations: false,
      connectionFilterComputedColumns: false,
      connectionFilterSetofFunctions: false,
      connectionFilterAllowNullInput: false,
      connectionFilterAllowEmptyObjectInput: false,
    },
    grafast: {
      context(requestContext, args) {
        // An HTTP request, or a WebSocket's upgrade request (its identity was verified at connection_init).
        const socket = requestContext.ws?.request;
        const request = requestContext.node?.req ?? socket;
        const identity = request && identityOf(request);
        if (!request || identity === undefined) {
          // Every route to GraphQL passes the authentication middleware; reaching here without it is a bug.
          throw new Error("request reached GraphQL without authentication");
        }
        // Transaction-local (`set_config(…, true)`) by construction: PostGraphile wraps each
        // operation that has pgSettings in a transaction. The role never comes from the token.
        // statement_timeout here, not on the roles: role settings apply at login, not on `set role`.
        const fairShareKey = shareKeyOf(identity, request);
        const pgSettings: Record<string, string> = identity
          ? { role: roles.user, "request.jwt.claims": JSON.stringify(identity), statement_timeout: statementTimeout }
          : { role: roles.anonymous, "request.jwt.claims": "", statement_timeout: statementTimeout };
        // Every connection this operation borrows (a subscription: each event's re-read) counts
        // against the caller's share of the pool (db/fairShare.ts).
        // Live updates listen on the caller's own channels, derived here from the verified sub;
        // only on a socket: over HTTP a subscription would hold the request open.
        return {
          pgSettings: { ...args.contextValue?.pgSettings, ...pgSettings },
          withPgClient: withinShare(share, fairShareKey, args.contextValue.withPgClient),
          // The same key pays for the rows the operation may read (graphql/rowBudget.ts).
          fairShareKey,
          ...(identity && socket ? { changeChannels: changeChannelsFor(identity.sub) } : {}),
        };
      },
    },
    grafserv: {
      graphqlPath: "/graphql",
      graphiql: !production,
      graphiqlPath: "/graphiql",
      graphiqlOnGraphQLGET: false,
      graphqlOverGET: false,
      websockets: false,
      watch: false,
      maskError,
      // Bodies that are not JSON (application/graphql); JSON is parsed, with the same limit, in http/body.ts.
      maxRequestLength: limits.bodyBytes,
    },
  };
}

/** Waiting operations one caller may have; beyond them the refusal comes at once. */
const MAX_WAITING_PER_USER = 100;

/** The configured share, or a third of the pool (at least one connection). */
export function fairShareOptions({ connectionsPerUser, waitMs }: AppConfig["fairShare"], poolSize: number) {
  const perKey = connectionsPerUser ?? Math.max(1, Math.floor(poolSize / 3));
  return { perKey, waitMs, maxWaiting: MAX_WAITING_PER_USER };
}
