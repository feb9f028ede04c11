import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/logger";

/**
 * A logger at `level` that keeps each line it writes, parsed, without the fields every line has
 * (time, pid, hostname), so a test can assert on them or print them when it fails.
 */
export function recordingLogger(level: string): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n"))
        if (line) {
          const { time: _time, pid: _pid, hostname: _hostname, ...rest } = JSON.parse(line);
          lines.push(rest);
        }
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}
