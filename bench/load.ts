/**
 * HTTP load with autocannon: keep-alive connections, each one a different user with
 * its own token (and its own task id), for a fixed duration — or, with `rate`, an
 * open model: requests sent on a schedule whatever the answers, latencies corrected
 * for coordinated omission.
 */
import autocannon from "autocannon";
import type { RunClock, Scenario } from "./scenarios";
import { SCENARIOS } from "./scenarios";
import type { Measurement } from "./stats";
import type { BenchUser } from "./users";

export type System = "api" | "floor";

export interface LoadOptions {
  system: System;
  baseUrl: string;
  users: BenchUser[];
  /** Used by the invalid-token scenario instead of the users' tokens. */
  forged: string;
  connections: number;
  seconds: number;
  clock: RunClock;
  /** Requests per second over all connections (open model); unlimited when absent. */
  rate?: number;
}

/** The request one user sends for a scenario: GraphQL to the API, the bare variables to the floor. */
export function requestFor(system: System, scenario: Scenario, user: BenchUser, clock: RunClock) {
  const variables = scenario.variables(user, clock);
  return system === "api"
    ? { path: "/graphql", body: JSON.stringify({ query: scenario.query, variables }) }
    : { path: `/scenario/${SCENARIOS.indexOf(scenario)}`, body: JSON.stringify({ variables }) };
}

export async function load(scenario: Scenario, options: LoadOptions): Promise<Measurement> {
  const invalid = scenario.kind === "invalid";
  let next = 0;
  const { path } = requestFor(options.system, scenario, options.users[0]!, options.clock);
  const result = await autocannon({
    url: `${options.baseUrl}${path}`,
    method: "POST",
    connections: options.connections,
    duration: options.seconds,
    ...(options.rate ? { overallRate: options.rate } : {}),
    timeout: 10,
    setupClient(client) {
      const user = options.users[next++ % options.users.length]!;
      client.setHeadersAndBody(
        {
          "content-type": "application/json",
          authorization: `Bearer ${invalid ? options.forged : user.token}`,
        },
        requestFor(options.system, scenario, user, options.clock).body,
      );
    },
    // A GraphQL error comes with status 200: only a body without one is a success.
    verifyBody: (body) => (invalid ? body.includes("UNAUTHENTICATED") : !body.includes('"errors"')),
  });
  return measurement(result, invalid ? "401" : "200", options.seconds);
}

function measurement(result: autocannon.Result, expected: string, seconds: number): Measurement {
  const answered = Object.values(result.statusCodeStats).reduce((sum, s) => sum + s.count, 0);
  const unexpected = answered - (result.statusCodeStats[expected]?.count ?? 0);
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    // A refused request may count both as a mismatch and an unexpected status: the larger, not the sum.
    errors: result.errors + result.timeouts + Math.max(result.mismatches, unexpected),
  };
}
