import { writeSync } from "node:fs";
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

/** Blocks this thread for `ms`: the exit path cannot wait for the event loop. */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Log lines for a file descriptor, buffered: written in chunks of ~4 KiB, or every 200 ms when
 * traffic is light, rather than one write per line. A full pipe (EAGAIN: its reader is slow)
 * keeps the rest for the next flush, up to `maxPending` bytes, past which lines are dropped and
 * counted in a line of their own. At exit what is pending is written, waiting for a slow reader
 * up to `exitWaitMs`. Once a write fails otherwise (EPIPE: whatever read the pipe is gone), lines
 * are dropped, so a signal or process.exit() still ends the process (pino.destination's
 * sonic-boom retries such a write at exit every 100 ms, without end).
 */
export function bufferedDestination(
  fd: number,
  { minLength = 4096, everyMs = 200, maxPending = 1_048_576, exitWaitMs = 5000 } = {},
): pino.DestinationStream & { flushSync(): void } {
  let lines: string[] = [];
  let length = 0;
  let unwritten: Buffer | undefined;
  let droppedBytes = 0;
  let broken = false;
  /** Writes what is pending; answers false when a full pipe left some of it for later. */
  const flushSync = (): boolean => {
    if (broken || (length === 0 && !unwritten)) return true;
    if (droppedBytes > 0) {
      lines.unshift(
        `${JSON.stringify({ level: 40, time: Date.now(), msg: `${droppedBytes} bytes of log lines dropped: stderr's reader was too slow` })}\n`,
      );
      droppedBytes = 0;
    }
    const fresh = Buffer.from(lines.join(""));
    const data = unwritten ? Buffer.concat([unwritten, fresh]) : fresh;
    lines = [];
    length = 0;
    unwritten = undefined;
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(fd, data, offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") {
          broken = true;
          return true;
        }
        if (data.length - offset <= maxPending) unwritten = data.subarray(offset);
        else {
          // Kept: the rest of a line already begun, so that no line is cut short.
          const lineEnd = data.indexOf(10, offset) + 1 || data.length;
          unwritten = data.subarray(offset, lineEnd);
          droppedBytes += data.length - lineEnd;
        }
        return false;
      }
    }
    return true;
  };
  const flushAtExit = () => {
    const giveUpAt = Date.now() + exitWaitMs;
    while (!flushSync() && Date.now() < giveUpAt) pause(5);
  };
  setInterval(flushSync, everyMs).unref();
  process.on("exit", flushAtExit);
  return {
    write(line: string) {
      if (broken) return;
      lines.push(line);
      length += line.length;
      if (length >= minLength) flushSync();
    },
    flushSync: flushAtExit,
  };
}

/** One for stderr, however many loggers the process makes (the tests make several). */
let stderr: ReturnType<typeof bufferedDestination> | undefined;
const stderrDestination = () => {
  stderr ??= bufferedDestination(2);
  return stderr;
};

/** Structured logs on stderr, so stdout stays free for what the CLI prints. */
export function createLogger(
  level: string,
  destination: pino.DestinationStream = stderrDestination(),
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
