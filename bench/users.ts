/**
 * Who the load is made of: seeded users with a token each, and the id of a task
 * each one owns (derived as the seed derives it, so no query is needed).
 */
import { createHash, randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { BENCH_PREFIX } from "./seed";

export interface BenchUser {
  n: number;
  sub: string;
  token: string;
  /** The user's oldest task (every seeded user has one). */
  taskId: string;
}

/** md5(text)::uuid, as Postgres computes it. */
export function md5Uuid(text: string): string {
  const hex = createHash("md5").update(text).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const benchSecret = () => randomBytes(32).toString("base64url");

/** `count` distinct users drawn uniformly from the `users` seeded ones (a fixed sequence, so runs compare). */
export async function benchUsers(secret: string, users: number, count: number): Promise<BenchUser[]> {
  const key = new TextEncoder().encode(secret);
  const picked = Array.from({ length: count }, (_, i) => 1 + ((i * 7919) % users));
  return Promise.all(
    picked.map(async (n) => {
      const sub = `${BENCH_PREFIX}${n}`;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime("6h")
        .sign(key);
      return { n, sub, token, taskId: md5Uuid(`${BENCH_PREFIX}task:${n}:1`) };
    }),
  );
}

/** A well-formed token signed with the wrong key: the API must refuse it before any database work. */
export async function forgedToken(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("6h")
    .sign(randomBytes(32));
}
