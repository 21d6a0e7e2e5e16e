/**
 * `npm run token -- <sub> [lifetime]`: mints a development token (HS256) for the
 * secret in JWT_SECRET or, when unset, the one `npm start` generated in .data/.
 * Lifetime is a jose time span such as 1h (the default), 30m or 7d.
 */
import { SignJWT } from "jose";
import { loadDevSecrets } from "./db/dev";

async function main(): Promise<void> {
  const [sub, lifetime = "1h"] = process.argv.slice(2);
  if (!sub) {
    process.stderr.write("usage: npm run token -- <sub> [lifetime, e.g. 1h]\n");
    process.exit(2);
  }
  if (!/^\d+\s*(s|sec|secs|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?|y|years?)$/i.test(lifetime)) {
    process.stderr.write(`token: lifetime must be a number and a unit such as 30m, 1h or 7d, got "${lifetime}"\n`);
    process.exit(2);
  }
  const secret = process.env.JWT_SECRET || (await loadDevSecrets()).jwtSecret;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(lifetime)
    .sign(new TextEncoder().encode(secret));
  process.stdout.write(`${token}\n`);
}

void main();
