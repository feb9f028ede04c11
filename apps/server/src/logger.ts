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
    // Buffered: lines go out in writes of ~4 KiB, or every 200 ms when traffic is light, rather
    // than one write per line. pino flushes what is pending when the process exits.
    pino.destination({ dest: 2, sync: false, minLength: 4096, periodicFlush: 200 }),
  );
}
