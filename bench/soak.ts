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
import http from "node:http";
import { requestFor, type LoadOptions } from "./load";
import type { Scenario } from "./scenarios";
import { rssBytes } from "./servers";
import { summarize, type Measurement } from "./stats";

export interface OpenModelResult extends Measurement {
  ratePerSecond: number;
  seconds: number;
  memory: Array<{ second: number; rssBytes: number }>;
  rssGrowthAfterWarmupPercent: number;
  /** The first few failures, as seen by the client, so a rare one can be explained. */
  errorSamples: string[];
  /** The same figures for each scenario of the mix, so a slow tail has a name. */
  byScenario: Record<string, Measurement>;
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

/**
 * One request of the mix, over a keep-alive agent. The max rate and the open model use
 * this same client, so the load generator costs the shared CPU the same in both and
 * "70 % of the max" means what it says.
 */
function makeSender(scenarios: Scenario[], options: LoadOptions) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const base = new URL(options.baseUrl);
  let errors = 0;
  const errorSamples: string[] = [];
  const failed = (what: string) => {
    errors++;
    if (errorSamples.length < 5) errorSamples.push(what);
  };
  const latencies: number[] = [];
  const byScenario = new Map<string, { latencies: number[]; errors: number }>(
    scenarios.map((s) => [s.name, { latencies: [], errors: 0 }]),
  );
  const send = (i: number, from: number) =>
    new Promise<void>((resolve) => {
      const user = options.users[i % options.users.length]!;
      const scenario = scenarios[Math.floor(i / options.users.length) % scenarios.length]!;
      const { path, body } = requestFor(options.system, scenario, user, options.clock);
      const mine = byScenario.get(scenario.name)!;
      const fail = (error: Error & { code?: string }) => {
        mine.errors++;
        failed(`${scenario.name}: ${error.code ?? error.message}`);
        resolve();
      };
      const request = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          path,
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` },
        },
        (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("error", fail);
          response.on("end", () => {
            latencies.push(performance.now() - from);
            mine.latencies.push(performance.now() - from);
            if (response.statusCode !== 200 || text.includes('"errors"')) {
              mine.errors++;
              failed(`${scenario.name}: ${response.statusCode} ${text.slice(0, 300)}`);
            }
            resolve();
          });
        },
      );
      request.on("error", fail);
      request.end(body);
    });
  return {
    send,
    result: (seconds: number) => summarize(latencies, seconds, errors),
    byScenario: (seconds: number) =>
      Object.fromEntries([...byScenario].map(([name, m]) => [name, summarize(m.latencies, seconds, m.errors)])),
    close: () => agent.destroy(),
    countError: () => failed("more than MAX_IN_FLIGHT requests in flight"),
    errorSamples,
  };
}

/** The closed model: `concurrency` users, each sending its next request when the last is answered. */
export async function maxRate(scenarios: Scenario[], options: LoadOptions): Promise<Measurement> {
  const sender = makeSender(scenarios, options);
  const until = performance.now() + options.seconds * 1000;
  let next = 0;
  const worker = async () => {
    while (performance.now() < until) await sender.send(next++, performance.now());
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  sender.close();
  return sender.result(options.seconds);
}

async function scheduled(
  scenarios: Scenario[],
  options: LoadOptions & { rate: number },
): Promise<Measurement & Pick<OpenModelResult, "errorSamples" | "byScenario">> {
  const sender = makeSender(scenarios, options);
  const total = Math.round(options.rate * options.seconds);
  const dueAt = (i: number) => start + (i * 1000) / options.rate;
  const pending: Array<Promise<void>> = [];
  let inFlight = 0;
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      while (next < total && dueAt(next) <= performance.now()) {
        if (inFlight >= MAX_IN_FLIGHT) {
          sender.countError();
        } else {
          inFlight++;
          pending.push(sender.send(next, dueAt(next)).finally(() => inFlight--));
        }
        next++;
      }
      if (next >= total) return resolve();
      // Pacing, not synchronisation: wake when the next request is due.
      setTimeout(tick, Math.max(0, dueAt(next) - performance.now()));
    };
    tick();
  });
  await Promise.all(pending);
  sender.close();
  return {
    ...sender.result(options.seconds),
    errorSamples: sender.errorSamples,
    byScenario: sender.byScenario(options.seconds),
  };
}
