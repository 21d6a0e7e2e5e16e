/**
 * The server's entry point: `node dist/main.js` after `npm run build`. Everything
 * comes from the environment, and the database and JWT key must be configured;
 * `npm start` (scripts/start.ts) is the development wrapper that supplies them.
 */
import { launch } from "./launch";

launch(async (config) => {
  const { authDatabaseUrl, jwt } = config;
  if (!authDatabaseUrl || !jwt) {
    const missing = [
      !authDatabaseUrl && "AUTH_DATABASE_URL",
      !jwt && "one of JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL or JWT_ISSUER",
    ];
    process.stderr.write(
      `Tasks API needs ${missing.filter(Boolean).join(" and ")}; \`npm start\` supplies development ones.\n`,
    );
    process.exit(1);
  }
  return { config: { ...config, authDatabaseUrl, jwt }, databaseLabel: "AUTH_DATABASE_URL" };
});
