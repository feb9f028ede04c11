import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./processes";
import { type Report, summary, table } from "./report";

const docPath = join(root, "docs", "benchmarks.md");
const start = "<!-- bench:results:start -->";
const end = "<!-- bench:results:end -->";

/** Replaces the generated section of docs/benchmarks.md; the rest of the page is written by hand. */
export function updateDocs(report: Report): void {
  const generated = [
    start,
    "<!-- Written by `pnpm bench`; edit the text around it, not this section. -->",
    "",
    summary(report),
    "",
    table(report),
    end,
  ].join("\n");
  const page = existsSync(docPath) ? readFileSync(docPath, "utf8") : `# Benchmarks\n\n${start}\n${end}\n`;
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  if (from < 0 || to < 0) throw new Error(`${docPath} has lost its ${start} / ${end} markers`);
  writeFileSync(docPath, page.slice(0, from) + generated + page.slice(to + end.length));
}
