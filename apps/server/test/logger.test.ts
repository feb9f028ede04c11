import { execFileSync, spawn } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bufferedDestination } from "../src/logger";

// The log destination against a pipe whose reader is slow: nothing logged before an exit is
// lost, and what is dropped past the limit is said, never cut mid-line.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "odyssey-logger-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A non-blocking pipe (a FIFO), as a server's stderr often is, and a reader that starts late. */
function slowPipe(startAfterMs: number) {
  const fifo = join(dir, "fifo");
  const out = join(dir, "out");
  execFileSync("mkfifo", [fifo]);
  const holder = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // lets the writer open
  const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  const reader = spawn("sh", ["-c", `sleep ${startAfterMs / 1000}; cat "${fifo}" > "${out}"`]);
  const done = new Promise((resolve) => reader.once("exit", resolve));
  return {
    writer,
    /** Closes the writing end and waits for the reader to have read everything. */
    finish: async () => {
      closeSync(writer);
      closeSync(holder);
      await done;
      return readFileSync(out, "utf8");
    },
  };
}

const line = (i: number) => `${JSON.stringify({ level: 30, msg: "request", i, pad: "x".repeat(200) })}\n`;

describe("bufferedDestination", () => {
  it("writes every line at exit, waiting for a reader that is slow", async () => {
    const pipe = slowPipe(500);
    const destination = bufferedDestination(pipe.writer, { minLength: 1 });
    for (let i = 0; i < 2000; i++) destination.write(line(i)); // ~450 KB: far more than a pipe holds
    destination.flushSync(); // what runs at exit
    const lines = (await pipe.finish()).split("\n").filter(Boolean);
    expect(lines).toHaveLength(2000);
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([...Array(2000).keys()]);
  });

  it("drops what a stalled reader leaves past the limit, whole lines only, and says how much", async () => {
    const pipe = slowPipe(500);
    const destination = bufferedDestination(pipe.writer, { minLength: 1, maxPending: 16_384 });
    for (let i = 0; i < 2000; i++) destination.write(line(i));
    destination.write(`${JSON.stringify({ level: 30, msg: "last" })}\n`);
    destination.flushSync();
    const lines = (await pipe.finish()).split("\n").filter(Boolean);
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string }); // no line cut short
    expect(parsed.length).toBeLessThan(2000);
    expect(parsed.some((l) => /^\d+ bytes of log lines dropped/.test(l.msg))).toBe(true);
    expect(parsed.at(-1)?.msg).toBe("last");
  });
});
