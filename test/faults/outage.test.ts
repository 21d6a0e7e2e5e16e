/*
 * The database goes away under a steady write load and comes back. Clients get a
 * fast 503 UNAVAILABLE with Retry-After (never a hang), readiness says so, the API
 * recovers by itself once Postgres is back, and the database holds exactly the
 * writes that were acknowledged — nothing acknowledged is lost, nothing half-done.
 */
import { Client } from "pg";
import { startApi, type TestApi } from "../support/api";
import { startOwnCluster, type OwnCluster } from "../support/cluster";
import { newUser } from "../support/tokens";

const POOL_TIMEOUT_MS = 1000;
let cluster: OwnCluster;
let api: TestApi;

beforeAll(async () => {
  cluster = await startOwnCluster("outage");
  api = await startApi({
    authUrl: cluster.authUrl,
    poolSize: 4,
    env: { DATABASE_POOL_TIMEOUT_MS: String(POOL_TIMEOUT_MS) },
  });
}, 60_000);
afterAll(async () => {
  await api?.close();
  await cluster?.destroy();
});

interface Attempt {
  title: string;
  at: number;
  ms: number;
  status: number;
  code?: string;
  retryAfter: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ready = async () => (await fetch(`${api.url}/health/ready`)).status;

it("fails fast while Postgres is down, recovers by itself, and loses no acknowledged write", async () => {
  const { sub, token } = await newUser("writer");
  const attempts: Attempt[] = [];
  let writing = true;
  let counter = 0;

  const writer = async () => {
    while (writing) {
      const title = `write ${counter++}`;
      const started = Date.now();
      const response = await fetch(`${api.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: `mutation ($title: String!) { createTask(input: { task: { title: $title, tags: ["a", "b"] } }) { task { title } } }`,
          variables: { title },
        }),
      });
      const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      attempts.push({
        title,
        at: started,
        ms: Date.now() - started,
        status: response.status,
        code: body.errors?.[0]?.extensions?.code,
        retryAfter: response.headers.get("retry-after"),
      });
      if (body.errors) await sleep(50); // a polite client backs off a little
    }
  };
  const writers = Array.from({ length: 4 }, writer);

  await sleep(700);
  expect(await ready()).toBe(200);
  const downAt = Date.now();
  await cluster.stop();
  await sleep(1500);
  expect(await ready()).toBe(503);
  await cluster.start();
  const upAt = Date.now();

  // Served again within 5 s of Postgres's return, without a restart.
  let recoveredAt: number | undefined;
  while (Date.now() - upAt < 5000 && recoveredAt === undefined) {
    await sleep(100);
    recoveredAt = attempts.find((a) => a.at >= upAt && a.status === 200)?.at;
  }
  await sleep(700);
  writing = false;
  await Promise.all(writers);

  expect(recoveredAt).toBeDefined();
  expect(recoveredAt! - upAt).toBeLessThan(5000);
  expect(await ready()).toBe(200);

  const succeeded = attempts.filter((a) => a.status === 200 && !a.code);
  const failed = attempts.filter((a) => a.status !== 200 || a.code);
  expect(succeeded.filter((a) => a.at < downAt).length).toBeGreaterThan(0);
  expect(succeeded.filter((a) => a.at > upAt).length).toBeGreaterThan(0);
  expect(failed.length).toBeGreaterThan(0);

  // Every failure was a fast, retryable 503; nothing hung past the pool's wait.
  for (const failure of failed) {
    expect(failure).toMatchObject({ status: 503, code: "UNAVAILABLE", retryAfter: "5" });
  }
  // Generous, for a busy two-core machine: a hang would be tens of seconds.
  expect(Math.max(...attempts.map((a) => a.ms))).toBeLessThan(POOL_TIMEOUT_MS + 4000);

  // The database holds every acknowledged write, each whole, and nothing nobody asked for.
  const db = new Client({ connectionString: cluster.superuserUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ title: string; tags: string }>(
      "select title, tags::text from app_public.tasks where user_id = $1",
      [sub],
    );
    const stored = new Map(rows.map((r) => [r.title, r.tags]));
    for (const a of succeeded) expect(stored.get(a.title)).toBe("{a,b}");
    const attempted = new Set(attempts.map((a) => a.title));
    for (const [title, tags] of stored) {
      expect(attempted.has(title)).toBe(true);
      expect(tags).toBe("{a,b}");
    }
    process.stdout.write(
      `outage: ${attempts.length} writes, ${succeeded.length} acknowledged (all stored), ${failed.length} refused with 503, ` +
        `${rows.length - succeeded.length} refused but committed; served again ${recoveredAt! - upAt} ms after restart\n`,
    );
  } finally {
    await db.end();
  }
}, 60_000);
