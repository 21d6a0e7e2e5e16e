/*
 * Issue 12's proof, short form (bench/fairness.ts is the long one): a hostile user runs
 * the worst operations the limits allow — the widest read the cost budget accepts, the
 * issue's nested and aliased attacks, the largest page size, subscription fan-out, at the
 * maximum allowed rate (12 in flight, sent at the per-user rate limit) — while another
 * user reads. The bystander must see no error at all, and its median latency must stay
 * within 3 × its median without the hog. The figures are printed.
 *
 * Production's request-rate limits apply (not startApi's lifted ones); the bystander reads
 * within them (at most 10 a second), the hog ignores every Retry-After. A flood beyond the
 * allowed rate is refused by the rate limiter before any parsing; shedding it before it reaches
 * the process is the load balancer's job (docs/operations.md).
 */
import {
  BYSTANDER_INTERVAL_MS,
  bystanderPhase,
  describeCounts,
  productionRateLimits,
  seedFairness,
  type HogResult,
} from "../../bench/fairnessWorkload";
import { loadConfig } from "../../src/config";
import { startApi, type TestApi } from "../support/api";
import { testDb } from "../support/env";
import { newUser } from "../support/tokens";

const BASELINE_SECONDS = 4;
const HOG_SECONDS = 8;
/**
 * Added to the 3× bound: the bystander's p50 alone is a few milliseconds, and on a 2-core
 * CI box shared with the hog's own client (same process) scheduler noise alone moves it by more.
 */
const NOISE_FLOOR_MS = 20;

const config = loadConfig({});
let api: TestApi;

beforeAll(async () => {
  // Production mode and production's pool size: the share of a pool of 10 is what is under test.
  api = await startApi({ production: true, poolSize: config.poolSize, env: productionRateLimits(config.rateLimits) });
});
afterAll(() => api.close());

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);

function print(label: string, figures: string[]) {
  process.stdout.write(`\nfairness — ${label}\n${figures.map((line) => `  ${line}\n`).join("")}`);
}

it("a hostile user's worst allowed load leaves another user error-free and within 3× its latency", async () => {
  const hog = await newUser("hog");
  const bystander = await newUser("bystander");
  const seed = await seedFairness(testDb.superuserUrl, hog, bystander, { hogTasks: 150, bystanderTasks: 5 });

  // Warm-up: the bystander's operations planned once, so the baseline is not their first run.
  const reads = { url: api.url, user: bystander, intervalMs: BYSTANDER_INTERVAL_MS };
  await bystanderPhase({ ...reads, seconds: 0.5 });
  const alone = (await bystanderPhase({ ...reads, seconds: BASELINE_SECONDS })).bystander;
  const withHog = await bystanderPhase({
    ...reads,
    seconds: HOG_SECONDS,
    hog: {
      user: hog,
      seed,
      limits: config.limits,
      concurrency: 12,
      // The maximum allowed rate: production's per-user limit, spread evenly over its minute.
      ratePerSecond: config.rateLimits.userPerMinute / 60,
      sockets: 6,
      subscriptionsPerSocket: 20,
    },
  });
  const during = withHog.bystander;
  const hogResult = withHog.hog as HogResult;
  const bound = 3 * alone.p50Ms + NOISE_FLOOR_MS;

  print("bystander", [
    `alone:    ${alone.requests} requests, p50 ${alone.p50Ms.toFixed(1)} ms, p99 ${alone.p99Ms.toFixed(1)} ms, errors ${alone.errors}`,
    `with hog: ${during.requests} requests, p50 ${during.p50Ms.toFixed(1)} ms, p99 ${during.p99Ms.toFixed(1)} ms, ` +
      `max ${during.maxMs.toFixed(0)} ms, errors ${during.errors} (${describeCounts(during.errorCounts)})`,
    `bound:    p50 with hog <= 3 × ${alone.p50Ms.toFixed(1)} + ${NOISE_FLOOR_MS} = ${bound.toFixed(1)} ms`,
  ]);
  print("hog", [
    `http (${total(hogResult.http)}): ${describeCounts(hogResult.http)}`,
    ...Object.entries(hogResult.byAttack).map(([attack, counts]) => `  ${attack}: ${describeCounts(counts)}`),
    `sockets: ${describeCounts(hogResult.sockets)}`,
    `subscriptions: ${describeCounts(hogResult.subscriptions)}`,
    `events: ${describeCounts(hogResult.events)}`,
  ]);

  // The hog really ran: it got answers, and it tried its sockets.
  expect(total(hogResult.http) - (hogResult.http["unfinished at stop"] ?? 0)).toBeGreaterThan(0);
  expect(total(hogResult.sockets)).toBeGreaterThan(0);
  // Without the hog the bystander is fine (else the comparison below means nothing).
  expect(alone.errorCounts).toEqual({});
  expect(during.errorCounts).toEqual({});
  expect(during.p50Ms).toBeLessThanOrEqual(bound);
}, 90_000);
