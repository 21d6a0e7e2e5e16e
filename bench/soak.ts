/**
 * Open-model load and the soak: the scenario mix sent at a fixed rate (a fraction of
 * the API's measured maximum) on an even schedule whatever the answers, over
 * keep-alive connections, sampling the server's resident memory. `npm run bench:soak`
 * is `npm run bench -- --only soak`.
 *
 * Not autocannon's `overallRate`: that resets a per-connection quota every second, so
 * every connection fires at once at each second's start — bursts, not an open model.
 * Here request i is due at start + i / rate, and its latency is counted from when it
 * was due, so a server that falls behind cannot hide it (no coordinated omission).
 *
 * Memory growth is measured after warm-up — from the end of the first third of the
 * run: V8 grows its heap in steps for the first ~45 s under load, then holds (see
 * bench/results/soak-2026-11-26T13-02-26-878Z.json) — not from an idle process.
 */
import { requestFor, type LoadOptions } from "./load";
import type { Scenario } from "./scenarios";
import { rssBytes } from "./servers";
import { summarize, type Measurement } from "./stats";

export interface OpenModelResult extends Measurement {
  ratePerSecond: number;
  seconds: number;
  memory: Array<{ second: number; rssBytes: number }>;
  rssGrowthAfterWarmupPercent: number;
}

export async function openModel(
  scenarios: Scenario[],
  options: LoadOptions & { rate: number; pid: number; sampleSeconds?: number },
): Promise<OpenModelResult> {
  const memory: OpenModelResult["memory"] = [];
  const started = Date.now();
  const sample = () =>
    memory.push({ second: Math.round((Date.now() - started) / 1000), rssBytes: rssBytes(options.pid) });
  sample();
  const sampler = setInterval(sample, (options.sampleSeconds ?? 5) * 1000);
  try {
    const measured = await scheduled(scenarios, options);
    sample();
    const warm = memory.find((m) => m.second >= options.seconds / 3) ?? memory[0]!;
    const last = memory.at(-1)!;
    return {
      ...measured,
      ratePerSecond: options.rate,
      seconds: options.seconds,
      memory,
      rssGrowthAfterWarmupPercent: ((last.rssBytes - warm.rssBytes) / warm.rssBytes) * 100,
    };
  } finally {
    clearInterval(sampler);
  }
}

/** Most requests allowed in flight; past that the server is lost and the rest count as errors. */
const MAX_IN_FLIGHT = 2000;

async function scheduled(scenarios: Scenario[], options: LoadOptions & { rate: number }): Promise<Measurement> {
  const total = Math.round(options.rate * options.seconds);
  const latencies: number[] = [];
  let errors = 0;
  let inFlight = 0;
  const pending: Array<Promise<void>> = [];
  const send = async (i: number, due: number) => {
    const user = options.users[i % options.users.length]!;
    const scenario = scenarios[Math.floor(i / options.users.length) % scenarios.length]!;
    const { path, body } = requestFor(options.system, scenario, user, options.clock);
    inFlight++;
    try {
      const response = await fetch(`${options.baseUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` },
        body,
      });
      const text = await response.text();
      latencies.push(performance.now() - due);
      if (response.status !== 200 || text.includes('"errors"')) errors++;
    } catch {
      errors++;
    } finally {
      inFlight--;
    }
  };
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + (next * 1000) / options.rate <= now) {
        if (inFlight >= MAX_IN_FLIGHT) errors++;
        else pending.push(send(next, start + (next * 1000) / options.rate));
        next++;
      }
      if (next >= total) return resolve();
      // Pacing, not synchronisation: wake when the next request is due.
      setTimeout(tick, Math.max(0, start + (next * 1000) / options.rate - performance.now()));
    };
    tick();
  });
  await Promise.all(pending);
  return summarize(latencies, options.seconds, errors);
}
