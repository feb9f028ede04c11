import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { testEngine } from "@odyssey/db/testing";

/** Where reliability tests leave the figures of their last run (git-ignored), for docs/reliability.md. */
export const figuresDir = join(dirname(fileURLToPath(import.meta.url)), "../../../../reports/reliability");

export function writeFigures(name: string, figures: Record<string, unknown>): void {
  mkdirSync(figuresDir, { recursive: true });
  const file = join(figuresDir, `${name}.${testEngine()}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ test: name, engine: testEngine(), at: new Date().toISOString(), ...figures }, null, 2)}\n`,
  );
}

/** Counts of answers by HTTP status (or by failure name when no answer came). */
export class StatusTally {
  readonly counts: Record<string, number> = {};
  add(status: number | string): void {
    this.counts[status] = (this.counts[status] ?? 0) + 1;
  }
  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}
