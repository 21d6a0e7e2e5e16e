/**
 * Open-model load and the soak: the scenario mix sent at a fixed rate (a fraction of
 * the API's measured maximum) whatever the answers, over many keep-alive connections
 * (autocannon corrects latencies for coordinated omission), sampling the server's
 * resident memory. `npm run bench:soak` is `npm run bench -- --only soak`.
 *
 * Memory growth is measured after warm-up — from the end of the first third of the
 * run: V8 grows its heap in steps for the first ~45 s under load, then holds (see
 * bench/results/soak-2026-11-26T13-02-26-878Z.json) — not from an idle process.
 */
import { loadMix, type LoadOptions } from "./load";
import type { Scenario } from "./scenarios";
import { rssBytes } from "./servers";
import type { Measurement } from "./stats";

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
    const measured = await loadMix(scenarios, options);
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
