import pino from "pino";

export type Logger = pino.Logger;

/**
 * The line of a failed query's message that quotes its parameters (drizzle: "Failed query: …
 * params: …"), which may be a key's hash or an event's field values.
 */
export const queryParametersLine = /\nparams: [^\n]*/g;

/** Cuts those parameters from every logged error. */
export const redactParameters = (text: string) => text.replace(queryParametersLine, "\nparams: [redacted]");

/** `redactParameters` through every string of a logged value. */
function withoutParameters(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactParameters(value);
  if (!value || typeof value !== "object" || depth > 5) return value;
  if (Array.isArray(value)) return value.map((v) => withoutParameters(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) =>
      k === "params" || k === "parameters" || k === "args"
        ? [k, "[redacted]"]
        : [k, withoutParameters(v, depth + 1)],
    ),
  );
}

const errSerializer = (err: unknown) => withoutParameters(pino.stdSerializers.errWithCause(err as Error));

/** Structured logs on stderr, so stdout stays free for what the CLI prints. */
export function createLogger(
  level: string,
  // Buffered: lines go out in writes of ~4 KiB, or every 200 ms when traffic is light, rather
  // than one write per line. pino flushes what is pending when the process exits.
  destination: pino.DestinationStream = pino.destination({
    dest: 2,
    sync: false,
    minLength: 4096,
    periodicFlush: 200,
  }),
): Logger {
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
      serializers: { err: errSerializer, error: errSerializer },
    },
    destination,
  );
}
