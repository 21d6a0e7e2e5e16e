/**
 * How many rows each caller may read per minute: a token bucket of rows per fair-share
 * key (db/fairShare.ts: the `sub`, or an anonymous caller's address), charged with each
 * operation's worst-case rows (graphql/cost.ts) before it runs. The request-rate limit
 * counts requests alike; this counts their weight, as GitHub's GraphQL API does with
 * points, so a user sending only the widest reads the cost budget allows gets a few a
 * minute, not one per request slot, and the event loop they would fill stays shared.
 */
import { ApiError } from "../errors";

export interface RowBudget {
  /** Takes `rows` from `key`'s bucket, or throws RATE_LIMITED when it holds fewer. */
  charge(key: string, rows: number): void;
}

/**
 * `perMinute` rows refill evenly; a bucket holds at most `burst` (at least one operation's
 * largest cost, so every accepted operation can run once the bucket is full).
 */
export function makeRowBudget({ perMinute, burst }: { perMinute: number; burst: number }, now = Date.now): RowBudget {
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { rows: number; at: number }>();
  // Full buckets carry no information: forget them, so idle callers cost no memory.
  const sweep = setInterval(() => {
    const t = now();
    for (const [key, bucket] of buckets) if (bucket.rows + (t - bucket.at) * perMs >= burst) buckets.delete(key);
  }, 60_000);
  sweep.unref();
  return {
    charge(key, rows) {
      const t = now();
      const bucket = buckets.get(key) ?? { rows: burst, at: t };
      bucket.rows = Math.min(burst, bucket.rows + (t - bucket.at) * perMs);
      bucket.at = t;
      buckets.set(key, bucket);
      if (bucket.rows < rows) {
        // When it could run: never sooner than the budget refills, so the message names the wait.
        const seconds = Math.ceil((Math.min(rows, burst) - bucket.rows) / perMs / 1000);
        throw new ApiError(
          "RATE_LIMITED",
          `this operation could read ${rows} rows and your budget holds ${Math.floor(bucket.rows)} now ` +
            `(${perMinute} a minute); retry in ${seconds} s, or ask for smaller pages`,
        );
      }
      bucket.rows -= rows;
    },
  };
}
