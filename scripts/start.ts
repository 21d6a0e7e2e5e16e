/**
 * `npm start`: the server for development. With no AUTH_DATABASE_URL it starts
 * the embedded Postgres, sets up the roles and applies the migrations; with no JWT
 * settings it uses a development secret kept in .data/ (mint tokens with
 * `npm run token -- <sub>`). In production (NODE_ENV=production) the configuration
 * refuses those gaps, so this runs exactly as `node dist/main.js` does.
 */
import { jwtConfigFor } from "../src/config";
import { launch } from "../src/launch";
import { CommandError } from "./db/connect";
import { loadDevSecrets, startDevDatabase } from "./db/dev";

launch(async (config, log) => {
  const jwt = config.jwt ?? jwtConfigFor({ kind: "secret", secret: (await loadDevSecrets()).jwtSecret });
  const bannerLines = config.jwt
    ? []
    : [`  Token:    npm run token -- alice   (then send "Authorization: Bearer <token>")`];
  if (config.authDatabaseUrl) {
    return {
      config: { ...config, authDatabaseUrl: config.authDatabaseUrl, jwt },
      databaseLabel: "AUTH_DATABASE_URL",
      bannerLines,
    };
  }
  const db = await startDevDatabase(config.embeddedPort, (line) => log.info(line)).catch((error: unknown) => {
    if (!(error instanceof CommandError)) throw error;
    // A refusal that says what to change (e.g. EMBEDDED_PG_PORT in use): no stack.
    process.stderr.write(`Tasks API cannot start the embedded database: ${error.message}\n`);
    process.exit(1);
  });
  return {
    config: { ...config, authDatabaseUrl: db.authUrl, jwt },
    databaseLabel: "the embedded database",
    bannerLines,
    afterClose: db.stop,
  };
});
