import pino from "pino";

export type Logger = pino.Logger;

/** Structured logs on stderr, so stdout stays free for what the CLI prints. */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      // Credentials never reach the logs, even if a future line passes a request or headers.
      redact: {
        paths: [
          "authorization",
          "*.authorization",
          "headers.authorization",
          "key",
          "*.key",
          "hash",
          "*.hash",
        ],
        censor: "[redacted]",
      },
    },
    pino.destination(2),
  );
}
