/**
 * The fairness workload of issue 12, shared by test/security/fairness.test.ts (short,
 * asserting generously) and bench/fairness.ts (longer, reported): a hostile signed-in
 * user, the hog, runs the worst operations the limits allow as fast as they allow,
 * while another user, the bystander, reads one request at a time and times each answer.
 *
 * It needs only the API's URL, two tokens and a superuser connection for the seed, so it
 * runs the same against an in-process API (the test) and a production child process (the bench).
 */
import { fork } from "node:child_process";
import path from "node:path";
import { createClient, type Client as WsClient } from "graphql-ws";
import { Client as PgClient } from "pg";
import WebSocket from "ws";
import type { AppConfig } from "../src/config";
import { ROOT_DIR } from "../src/paths";
import { percentile } from "./stats";

export interface FairnessUser {
  sub: string;
  token: string;
}

export interface FairnessSeed {
  /** The hog's tasks, all in one list, so each nested `list { tasks }` fans out to all of them. */
  hogTaskIds: string[];
  bystanderTasks: number;
}

/**
 * Arranges the setting as the superuser: the hog with `hogTasks` tasks in one list
 * (descriptions and tags make the aliased attack's rows wide), the bystander with a few.
 * Removes what an earlier run left for the same subs first, so the bench can reuse its users.
 */
export async function seedFairness(
  superuserUrl: string,
  hog: FairnessUser,
  bystander: FairnessUser,
  { hogTasks = 150, bystanderTasks = 5 } = {},
): Promise<FairnessSeed> {
  const client = new PgClient({ connectionString: superuserUrl });
  await client.connect();
  try {
    const seedUser = async (sub: string, count: number) => {
      await client.query("delete from app_public.tasks where user_id = $1", [sub]);
      await client.query("delete from app_public.lists where user_id = $1", [sub]);
      const { rows } = await client.query<{ id: string }>(
        `with list as (insert into app_public.lists (user_id, name) values ($1, 'fairness') returning id)
         insert into app_public.tasks (user_id, list_id, title, description, tags)
         select $1, list.id, 'task ' || n, repeat('a task description of some length. ', 6), '{work,home,later}'
           from list, generate_series(1, $2::int) as n
         returning id`,
        [sub, count],
      );
      return rows.map((r) => r.id);
    };
    const hogTaskIds = await seedUser(hog.sub, hogTasks);
    await seedUser(bystander.sub, bystanderTasks);
    return { hogTaskIds, bystanderTasks };
  } finally {
    await client.end();
  }
}

/** The limits the attack is shaped by (the API's own config: loadConfig(...).limits). */
export interface AttackLimits {
  /** MAX_ALIASES: the aliased attack uses exactly this many. */
  aliases: number;
  /** MAX_PAGE_SIZE: the explicit `first` of the "max first" variants. */
  pageSize: number;
  /** MAX_QUERY_COST: the widest accepted read is sized to it. */
  cost: number;
  /** MAX_SUBSCRIPTION_COST: the heaviest accepted subscription is sized to it. */
  subscriptionCost: number;
}

/** The attacks of issue 12, items 1–3, sized to the limits: each is accepted by today's validation. */
export function attackQueries({ aliases, pageSize, cost, subscriptionCost }: AttackLimits) {
  const aliasedTimes = (count: number, selection: string) =>
    `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${selection}`).join(" ")} }`;
  const aliased = (selection: string) => aliasedTimes(aliases, selection);
  const first = `(first: ${pageSize})`;
  // A full page of tasks, each with a full page of its list's tasks: pageSize + pageSize² rows.
  const twoLevels = `tasks${first} { nodes { list { tasks${first} { nodes { title description tags createdAt } } } } }`;
  const widestCopies = Math.max(1, Math.min(aliases, Math.floor(cost / (pageSize + pageSize * pageSize))));
  // A subscription's event re-reads its task, the list and one page of the list's tasks.
  const eventPage = Math.max(1, Math.min(pageSize, subscriptionCost - 2));
  return {
    /** Item 1: depth 9, no aliases, no `first`. */
    nested: `{ tasks { nodes { list { tasks { nodes { list { tasks { nodes { rowId } } } } } } } } }`,
    nestedMaxFirst: `{ tasks${first} { nodes { list { tasks${first} { nodes { list { tasks${first} { nodes { rowId } } } } } } } } }`,
    /** Item 2: wide rows, two levels, under every alias allowed. */
    aliases: aliased(`tasks { nodes { list { tasks { nodes { title description tags createdAt } } } } }`),
    aliasesMaxFirst: aliased(
      `tasks${first} { nodes { list { tasks${first} { nodes { title description tags createdAt } } } } }`,
    ),
    /** The worst read the limits accept: as many two-level full pages as the cost budget allows. */
    widest: aliasedTimes(widestCopies, twoLevels),
    /** The heaviest subscription the limits accept: each event re-reads a full page of the list's tasks. */
    subscriptionAllowed: `subscription { taskChanged { event rowId task { rowId list { tasks(first: ${eventPage}) { nodes { rowId title description tags } } } } } }`,
    /** Item 3: what each subscription re-reads per event (depth 9). */
    subscription: `subscription { taskChanged { event rowId task { rowId list { tasks { nodes { rowId title description list { tasks { nodes { rowId title tags } } } } } } } } }`,
    update: `mutation ($id: UUID!, $t: String!) { updateTask(input: { rowId: $id, patch: { title: $t } }) { clientMutationId } }`,
  };
}

/**
 * The API's request-rate limits as production has them (startApi and the bench lift them for
 * throughput): "the maximum allowed rate" is production's, and a fix may well be a rate limit.
 */
export function productionRateLimits({ userPerMinute, anonymousPerMinute, rowsPerMinute }: AppConfig["rateLimits"]) {
  return {
    RATE_LIMIT_ROWS_PER_MINUTE: String(rowsPerMinute),
    RATE_LIMIT_USER_PER_MINUTE: String(userPerMinute),
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: String(anonymousPerMinute),
  };
}

/** The bystander reads at most 10 times a second: 600 a minute, inside the default 1200 per user. */
export const BYSTANDER_INTERVAL_MS = 100;

/** The bystander's reads, alternated: the probe, and a small page of its tasks. */
export const BYSTANDER_QUERIES = [
  `{ currentUserId tasks { totalCount } }`,
  `{ tasks(first: 5) { nodes { rowId title } } }`,
] as const;

/** Outcome counts by a short key: ok, a catalogue code (LIMIT_EXCEEDED, RATE_LIMITED, …), or what went wrong. */
export type Counts = Record<string, number>;

const bump = (counts: Counts, key: string) => (counts[key] = (counts[key] ?? 0) + 1);

interface Answer {
  status: number;
  body: { data?: any; errors?: Array<{ message?: string; extensions?: { code?: string } }> } | undefined;
}

async function post(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> | undefined,
  signal: AbortSignal,
): Promise<Answer> {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  // A body the client cannot parse (or never receives whole) is an outcome too, not a crash of the workload.
  const text = await response.text();
  let body: Answer["body"];
  try {
    body = JSON.parse(text) as Answer["body"];
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

/** "ok", the first error's catalogue code, or "<status> no code" / "unparsable". */
function outcomeOf({ status, body }: Answer): string {
  if (!body) return `${status} unparsable`;
  const code = body.errors?.[0]?.extensions?.code;
  if (status === 200 && !body.errors) return "ok";
  return code ?? `${status} no code`;
}

const errorName = (error: unknown) =>
  error instanceof Error
    ? error.name === "AbortError" || error.name === "TimeoutError"
      ? "timeout"
      : "transport"
    : "transport";

export interface BystanderResult {
  requests: number;
  errors: number;
  /** Errors by outcome (never expected): a code, "<status> no code", "timeout", "transport", "wrong data". */
  errorCounts: Counts;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Every request's latency, errors included (an error that took long is slowness too). */
  latenciesMs: number[];
}

export interface BystanderOptions {
  url: string;
  user: FairnessUser;
  seconds: number;
  /** Longest a request may take before it counts as an error (and is abandoned). */
  timeoutMs?: number;
  /**
   * Least time from one request's start to the next (0: back to back). A user who reads within
   * the request-rate limit: a bystander hitting its own 429s would measure the limiter, not fairness.
   */
  intervalMs?: number;
}

/**
 * The bystander: its reads one at a time (a closed loop), each timed. Any non-200, any
 * GraphQL error, a wrong answer or no answer within `timeoutMs` is an error.
 */
export async function runBystander({
  url,
  user,
  seconds,
  timeoutMs = 10_000,
  intervalMs = 0,
}: BystanderOptions): Promise<BystanderResult> {
  const latenciesMs: number[] = [];
  const errorCounts: Counts = {};
  const until = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < until; i++) {
    const query = BYSTANDER_QUERIES[i % BYSTANDER_QUERIES.length]!;
    const started = performance.now();
    let outcome: string;
    try {
      const answer = await post(url, user.token, query, undefined, AbortSignal.timeout(timeoutMs));
      outcome = outcomeOf(answer);
      // Its own rows, not merely a 200: the first read names the caller.
      if (outcome === "ok" && i % 2 === 0 && answer.body?.data?.currentUserId !== user.sub) outcome = "wrong data";
    } catch (error) {
      outcome = errorName(error);
    }
    const elapsed = performance.now() - started;
    latenciesMs.push(elapsed);
    if (outcome !== "ok") bump(errorCounts, outcome);
    // No catching up after a slow answer: one request at a time, at most one per interval.
    if (elapsed < intervalMs) await new Promise((resolve) => setTimeout(resolve, intervalMs - elapsed));
  }
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const errors = Object.values(errorCounts).reduce((sum, n) => sum + n, 0);
  return {
    requests: latenciesMs.length,
    errors,
    errorCounts,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? 0,
    latenciesMs,
  };
}

export interface HogOptions {
  url: string;
  user: FairnessUser;
  seed: FairnessSeed;
  limits: AttackLimits;
  /** HTTP requests in flight at most (issue: 12). */
  concurrency?: number;
  /**
   * HTTP requests sent per second, over all `concurrency` loops: the maximum allowed rate
   * (RATE_LIMIT_USER_PER_MINUTE / 60). Unset: each loop sends as soon as its previous answer arrives.
   */
  ratePerSecond?: number;
  /** WebSockets opened at once, each with `subscriptionsPerSocket` heavy subscriptions (issue: 4 × 20). */
  sockets?: number;
  subscriptionsPerSocket?: number;
  /**
   * Before re-subscribing after a refusal or re-connecting after a close. Small, so the hog keeps
   * pressing on every cap; not zero, so a refusal loop measures the server rather than this client.
   */
  retryDelayMs?: number;
  /** Abandon a hog request after this long (it is counted as "timeout"). */
  timeoutMs?: number;
}

export interface HogResult {
  /** HTTP outcomes, all attacks together. */
  http: Counts;
  /** HTTP outcomes per attack (nested, aliases, …, update). */
  byAttack: Record<string, Counts>;
  /** Sockets: accepted (connection_ack) and closed by the server, by close code. */
  sockets: Counts;
  /** Subscribe messages sent, and refused (by code); graphql-ws has no acceptance message. */
  subscriptions: Counts;
  /** Subscription events: delivered with data ("ok") or with errors (by code). */
  events: Counts;
}

export interface Hog {
  /** The counts so far. */
  counts(): HogResult;
  /** Stops every loop, aborts the requests in flight and closes the sockets; resolves with the counts. */
  stop(): Promise<HogResult>;
}

/**
 * Starts the hog: `concurrency` HTTP loops, each cycling through the attacks (the updates
 * make the subscriptions' events), and the subscription fan-out. Nothing it does waits
 * for Retry-After: a hostile client would not.
 */
export function startHog({
  url,
  user,
  seed,
  limits,
  concurrency = 12,
  ratePerSecond,
  sockets = 6,
  subscriptionsPerSocket = 20,
  retryDelayMs = 200,
  timeoutMs = 30_000,
}: HogOptions): Hog {
  const queries = attackQueries(limits);
  let updates = 0;
  const attacks: Array<[name: string, query: string, variables?: () => Record<string, unknown>]> = [
    ["widest", queries.widest],
    ["nested", queries.nested],
    ["aliases", queries.aliases],
    ["nestedMaxFirst", queries.nestedMaxFirst],
    ["aliasesMaxFirst", queries.aliasesMaxFirst],
    [
      "update",
      queries.update,
      () => ({ id: seed.hogTaskIds[updates++ % seed.hogTaskIds.length], t: `hog ${updates}` }),
    ],
  ];
  const result: HogResult = { http: {}, byAttack: {}, sockets: {}, subscriptions: {}, events: {} };
  const stopping = new AbortController();
  const stopped = new Promise<void>((resolve) => stopping.signal.addEventListener("abort", () => resolve()));
  const sleep = (ms: number) => Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms)), stopped]);

  // Paced: one shared schedule of send times, `1000 / ratePerSecond` ms apart, whoever sends.
  let nextSend = Date.now();
  const paced = async () => {
    if (!ratePerSecond) return;
    const at = Math.max(nextSend, Date.now());
    nextSend = at + 1000 / ratePerSecond;
    await sleep(at - Date.now());
  };

  const httpLoop = async (worker: number) => {
    for (let i = worker; !stopping.signal.aborted; i++) {
      await paced();
      if (stopping.signal.aborted) break;
      const [name, query, variables] = attacks[i % attacks.length]!;
      let outcome: string;
      try {
        const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(timeoutMs)]);
        outcome = outcomeOf(await post(url, user.token, query, variables?.(), signal));
      } catch (error) {
        // Cut off by stop(): counted apart, since it had no answer yet (a slow attack shows here).
        outcome = stopping.signal.aborted ? "unfinished at stop" : errorName(error);
      }
      bump(result.http, outcome);
      bump((result.byAttack[name] ??= {}), outcome);
    }
  };

  const clients: WsClient[] = [];
  const socketLoop = async () => {
    while (!stopping.signal.aborted) {
      let closed!: (code: number) => void;
      const closedCode = new Promise<number>((resolve) => (closed = resolve));
      // Not lazy and never retrying: every close is seen as the server made it, and answered here.
      const client = createClient({
        url: `${url.replace(/^http/, "ws")}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${user.token}` },
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => {},
        on: {
          connected: () => bump(result.sockets, "accepted"),
          closed: (event) => closed((event as { code?: number }).code ?? 0),
          error: () => {},
        },
      });
      clients.push(client);
      const slots = Array.from({ length: subscriptionsPerSocket }, (_, slot) =>
        subscriptionLoop(client, closedCode, slot),
      );
      // A client stopped between two connection attempts never reports a close: stopping ends the wait.
      const code = await Promise.race([closedCode, stopped.then(() => undefined)]);
      if (!stopping.signal.aborted) bump(result.sockets, `closed ${code}`);
      await Promise.all(slots);
      await sleep(retryDelayMs);
    }
  };

  /** One subscription slot: subscribes, counts its events, and re-subscribes when refused or ended. */
  const subscriptionLoop = async (client: WsClient, closedCode: Promise<number>, slot: number) => {
    let socketClosed = false;
    void closedCode.then(() => (socketClosed = true));
    let done = () => {};
    while (!stopping.signal.aborted && !socketClosed) {
      await new Promise<void>((resolve) => {
        bump(result.subscriptions, "subscribe sent");
        const unsubscribe = client.subscribe(
          // Half the slots ask for more than a subscription may read (refused), half for the most it may.
          { query: slot % 2 === 0 ? queries.subscriptionAllowed : queries.subscription },
          {
            next: (value) => {
              const code = value.errors ? (value.errors[0]?.extensions?.code as string | undefined) : "ok";
              bump(result.events, code ?? "no code");
            },
            error: (error) => {
              if (stopping.signal.aborted) return resolve();
              // An array is the server's `error` message (a refusal); anything else is the socket closing.
              if (Array.isArray(error)) {
                const code = (error[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code;
                bump(result.subscriptions, `refused ${code ?? "no code"}`);
              }
              resolve();
            },
            complete: () => resolve(),
          },
        );
        const onStop = () => (unsubscribe(), resolve());
        stopping.signal.addEventListener("abort", onStop, { once: true });
        // Its socket gone, the slot waits for the next socket rather than letting the client reconnect here.
        void closedCode.then(onStop);
        done = () => stopping.signal.removeEventListener("abort", onStop);
      });
      done();
      await sleep(retryDelayMs);
    }
  };

  const loops = [
    ...Array.from({ length: concurrency }, (_, worker) => httpLoop(worker)),
    ...Array.from({ length: sockets }, () => socketLoop()),
  ];
  return {
    counts: () => result,
    async stop() {
      stopping.abort();
      // Bounded: what a library leaves pending must not keep the counts from being reported.
      const settled = (work: Promise<unknown>) => Promise.race([work, new Promise((r) => setTimeout(r, 5000))]);
      // dispose() throws for a socket still connecting (ws refuses to close it): nothing to do then.
      const dispose = async (client: WsClient) => client.dispose();
      await settled(Promise.allSettled(clients.map(dispose)));
      await settled(Promise.all(loops));
      return result;
    },
  };
}

/**
 * The hog in a process of its own (bench/fairnessHog.ts): a hostile user's client runs on
 * their machine, not in the process that measures the bystander (in the test, the API's own),
 * whose event loop its work would otherwise slow, whatever the server does.
 */
export async function spawnHog(options: HogOptions): Promise<Hog> {
  const child = fork(path.join(ROOT_DIR, "bench/fairnessHog.ts"), [], {
    cwd: ROOT_DIR,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // The child reports its counts every second and once more when stopped; the last one received counts.
  let latest: HogResult | undefined;
  let final = false;
  child.on("message", (m: "ready" | { counts: HogResult; final: boolean }) => {
    if (m === "ready") return;
    latest = m.counts;
    final ||= m.final;
  });
  await Promise.race([
    new Promise<void>((resolve) => child.once("message", () => resolve())),
    exited.then((code) => Promise.reject(new Error(`the hog exited (${code}) before it started`))),
  ]);
  child.send(options);
  return {
    counts: () => latest!,
    async stop() {
      child.send("stop");
      // On a starved machine the child may not finish in time: its last report is used, and said so.
      const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(deadline);
      if (!latest) throw new Error("the hog never reported");
      if (!final) latest.sockets["killed at stop (counts from its last report)"] = 1;
      return latest;
    },
  };
}

/** Runs the bystander alone for `seconds`, or alongside the hog (started first, stopped after). */
export async function bystanderPhase(
  options: BystanderOptions & { hog?: Omit<HogOptions, "url"> },
): Promise<{ bystander: BystanderResult; hog?: HogResult }> {
  if (!options.hog) return { bystander: await runBystander(options) };
  const hog = await spawnHog({ ...options.hog, url: options.url });
  const bystander = await runBystander(options).catch(async (error: unknown) => {
    await hog.stop();
    throw error;
  });
  return { bystander, hog: await hog.stop() };
}

/** One line per figure, for a test's output or the bench's log. */
export function describeCounts(counts: Counts): string {
  const entries = Object.entries(counts).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? "none" : entries.map(([key, n]) => `${key} ${n}`).join(", ");
}
