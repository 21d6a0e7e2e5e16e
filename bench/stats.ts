/** What one system achieved on one scenario in one timed run. */
export interface Measurement {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

export function summarize(latenciesMs: number[], seconds: number, errors: number): Measurement {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    requestsPerSecond: sorted.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors,
  };
}

/**
 * Several rounds of one system on one scenario, combined: median throughput and
 * latencies (robust to one disturbed round on a noisy machine), errors summed.
 */
export function combine(rounds: Measurement[]): Measurement {
  return {
    requests: rounds.reduce((sum, m) => sum + m.requests, 0),
    requestsPerSecond: median(rounds.map((m) => m.requestsPerSecond)),
    p50Ms: median(rounds.map((m) => m.p50Ms)),
    p99Ms: median(rounds.map((m) => m.p99Ms)),
    errors: rounds.reduce((sum, m) => sum + m.errors, 0),
  };
}
