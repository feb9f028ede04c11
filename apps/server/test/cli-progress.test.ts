import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { progressBar } from "../src/progress";
import { type FreshDatabase, freshDatabase, runCli } from "./support/processes";

// `seed --demo`'s progress when stderr is not a terminal: a line for each 10% step reached.

/** A stream that is not a terminal, keeping what is written. */
function pipe() {
  const written: string[] = [];
  const stream = { isTTY: false, write: (chunk: string) => written.push(chunk) > 0 };
  return { stream: stream as unknown as NodeJS.WriteStream, written };
}

const percents = (output: string) =>
  output
    .split("\n")
    .filter((line) => line.startsWith("Sending"))
    .map((line) => Number(/ (\d+)% \(/.exec(line)?.[1]));

describe("progress on a pipe", () => {
  it("writes one line per 10% step when every step is reported", () => {
    const { stream, written } = pipe();
    const report = progressBar(stream);
    for (let done = 1; done <= 1000; done++) report(done, 1000, "Sending");
    expect(percents(written.join(""))).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(written.every((chunk) => chunk.endsWith("\n") && !chunk.includes("\r"))).toBe(true);
  });

  it("writes a line for each step a batch crosses, though its percentage is not a multiple of 10", () => {
    const { stream, written } = pipe();
    const report = progressBar(stream);
    for (const done of [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 4700])
      report(done, 4700, "Sending");
    expect(percents(written.join(""))).toEqual([10, 21, 31, 42, 53, 63, 74, 85, 95, 100]);
  });

  it("writes one line for a batch that crosses several steps, and 100% once at the end", () => {
    const { stream, written } = pipe();
    const report = progressBar(stream);
    for (const done of [500, 1000, 1500, 1500]) report(done, 1500, "Sending");
    expect(percents(written.join(""))).toEqual([33, 66, 100]);
    expect(written.at(-1)).toContain("(1500/1500)");
  });

  it("writes 100% for empty work", () => {
    const { stream, written } = pipe();
    progressBar(stream)(0, 0, "Sending");
    expect(percents(written.join(""))).toEqual([100]);
  });
});

describe("seed --demo with stderr on a pipe", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(() => db.drop());

  it("prints a line for every 10% step its batches reach, ending at 100%", async () => {
    const result = await runCli(["seed", "--demo", "--days", "5"], db.env);
    expect(result.code).toBe(0);
    // The result, the journey's slug, alone on stdout; everything else on stderr.
    expect(result.stdout).toBe("demo-small-business-grant\n");
    const total = Number(/ (\d+) events\./.exec(result.stderr)?.[1]);
    expect(total).toBeGreaterThan(2000);
    // The seed sends batches of 500 events: the steps they reach, each once.
    const steps: number[] = [];
    for (let done = 500; done < total + 500; done += 500) {
      const step = Math.floor(Math.floor((Math.min(done, total) / total) * 100) / 10);
      if (step !== steps.at(-1)) steps.push(step);
    }
    const printed = percents(result.stderr);
    expect(printed.map((percent) => Math.floor(percent / 10))).toEqual(steps);
    expect(result.stderr).toContain(`100% (${total}/${total})`);
  });
});
