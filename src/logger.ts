import pino from "pino";

export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: string | undefined;
  /** Where JSON lines go; stdout by default (tests capture them). */
  destination?: pino.DestinationStream;
}

/**
 * JSON logs. Authorization headers and tokens are redacted wherever they might
 * appear, so a logged request or error never carries a credential.
 */
export function makeLogger({ level, destination }: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    level: level ?? "info",
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "token", "*.token", "password", "*.password"],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
