/*
 * The per-caller row budget (src/graphql/rowBudget.ts): a bucket of worst-case rows per
 * minute, with a fake clock; and over HTTP, the widest read the cost budget accepts,
 * repeated, turns into 429 RATE_LIMITED for that user while another user reads on.
 */
import { Client } from "pg";
import { ApiError } from "../../src/errors";
import { makeRowBudget } from "../../src/graphql/rowBudget";
import { startApi } from "../support/api";
import { testDb } from "../support/env";
import { Changes, openSocket } from "../support/liveUpdates";
import { newUser } from "../support/tokens";

describe("the row budget", () => {
  it("lets a caller spend its burst, refuses more, and refills evenly", () => {
    let now = 0;
    const budget = makeRowBudget({ perMinute: 6_000, burst: 1_000 }, () => now);
    budget.charge("sub:a", 600);
    budget.charge("sub:a", 400);
    expect(() => budget.charge("sub:a", 1)).toThrow(ApiError);
    expect(() => budget.charge("sub:a", 1)).toThrow(/budget holds 0 now \(6000 a minute\); retry in 1 s/);
    now += 1_000; // 100 rows a second
    expect(() => budget.charge("sub:a", 101)).toThrow(/budget holds 100/);
    budget.charge("sub:a", 100);
  });

  it("keeps each caller's bucket apart and never refills past the burst", () => {
    let now = 0;
    const budget = makeRowBudget({ perMinute: 6_000, burst: 1_000 }, () => now);
    budget.charge("sub:a", 1_000);
    budget.charge("sub:b", 1_000); // b's bucket is its own, full
    now += 3_600_000;
    budget.charge("sub:a", 1_000);
    expect(() => budget.charge("sub:a", 1)).toThrow(ApiError);
  });
});

it("answers 429 RATE_LIMITED once a user's rows a minute are spent, and another user reads on", async () => {
  // A burst of 150 rows (the larger of the two cost budgets), refilled at one row a second.
  const api = await startApi({
    production: true,
    env: { RATE_LIMIT_ROWS_PER_MINUTE: "60", MAX_QUERY_COST: "150", MAX_SUBSCRIPTION_COST: "150" },
  });
  try {
    const hog = await newUser("hog");
    const bystander = await newUser("bystander");
    const wide = `{ tasks(first: 100) { nodes { rowId } } }`; // 100 rows, worst case
    const first = await api.graphql(wide, {}, { token: hog.token });
    expect(first.status).toBe(200);
    expect(first.body.errors).toBeUndefined();
    const refused = await api.graphql(wide, {}, { token: hog.token }); // 50 rows left, and a few refilled
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBeTruthy();
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(["RATE_LIMITED"]);
    const other = await api.graphql(wide, {}, { token: bystander.token });
    expect(other.status).toBe(200);
    expect(other.body.errors).toBeUndefined();
  } finally {
    await api.close();
  }
});

it("pays each subscription event's re-read from the subscriber's budget: once spent, events say RATE_LIMITED", async () => {
  // A burst of 50 rows, refilled at one a second; the changes are made as the superuser, so only events spend.
  const api = await startApi({
    production: true,
    env: { RATE_LIMIT_ROWS_PER_MINUTE: "60", MAX_QUERY_COST: "50", MAX_SUBSCRIPTION_COST: "50" },
  });
  const db = new Client({ connectionString: testDb.superuserUrl });
  await db.connect();
  const hog = await newUser("hog");
  const bystander = await newUser("bystander");
  const socket = openSocket(api, { authorization: `Bearer ${hog.token}` });
  try {
    const changes = new Changes(socket.client, "taskChanged", api);
    await changes.live(hog);
    const { rows } = await db.query<{ id: string }>(
      "insert into app_public.tasks (user_id, title) values ($1, 'watched') returning id",
      [hog.sub],
    );
    const delivered: string[] = [];
    let refusal: unknown;
    for (let i = 0; i < 60 && !refusal; i++) {
      await db.query("update app_public.tasks set title = $2 where id = $1", [rows[0]!.id, `change ${i}`]);
      await changes.next().then(
        (change) => delivered.push(change.rowId),
        (error: unknown) => (refusal = error),
      );
    }
    expect(delivered.length).toBeGreaterThan(0); // events flowed while the budget lasted
    expect(String(refusal)).toMatch(/"code":"RATE_LIMITED"/);
    const other = await api.graphql(`{ currentUserId }`, {}, { token: bystander.token });
    expect(other.body).toEqual({ data: { currentUserId: bystander.sub } });
  } finally {
    await socket.client.dispose();
    await db.end();
    await api.close();
  }
});
