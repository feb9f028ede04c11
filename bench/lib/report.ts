import { cpus, totalmem } from "node:os";
import type { LoadResult } from "../load/spec";

export interface ScenarioResult {
  id: string;
  title: string;
  baselineTitle: string;
  unit: "req/s" | "rows/s";
  server: LoadResult;
  baseline: LoadResult;
  /** Every measured sample, best first is not implied. */
  samples: { server: LoadResult[]; baseline: LoadResult[] };
  ratio: number;
  target: { minRatio: number; maxP99Ms?: number };
  met: boolean;
}

export interface Check {
  name: string;
  value: string;
  target: string;
  /** null: reported, not judged. */
  met: boolean | null;
}

export interface Report {
  date: string;
  command: string;
  mode: "full" | "quick";
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; postgres: string };
  scenarios: ScenarioResult[];
  checks: Check[];
  memory: {
    rssAfterFirstPassMiB: number;
    rssAfterSecondPassMiB: number;
    /** Lowest RSS while the server sat idle after each pass (null: not waited for, in quick mode). */
    rssIdleAfterFirstPassMiB: number | null;
    rssIdleMiB: number | null;
    rssIdleAfterSeconds: number | null;
    /** After a full garbage collection at the end of each pass: what the server keeps. */
    retainedAfterFirstPass: { rssMiB: number; heapUsedMiB: number };
    retainedAfterSecondPass: { rssMiB: number; heapUsedMiB: number };
  };
  coldStartMs: number[];
}

export function machine(postgres: string): Report["machine"] {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres,
  };
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1));
const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 1)}`;
const mark = (met: boolean) => (met ? "yes" : "**no**");

function throughput(result: ScenarioResult, side: LoadResult) {
  return result.unit === "rows/s"
    ? `${fmt(side.requestsPerSecond * 100)} rows/s`
    : `${fmt(side.requestsPerSecond)}`;
}

function targetText(s: ScenarioResult) {
  const ratio = `≥ ${Math.round(s.target.minRatio * 100)}%`;
  return s.target.maxP99Ms ? `${ratio}, p99 < ${s.target.maxP99Ms} ms` : ratio;
}

/** The one table: Markdown, so the same text goes to the terminal and to docs/benchmarks.md. */
export function table(report: Report): string {
  const lines = [
    "| scenario | server req/s | p50 ms | p99 ms | baseline | baseline req/s | p50 ms | p99 ms | ratio | target | met | CPU µs/req server / baseline |",
    "|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|---:|",
  ];
  for (const s of report.scenarios) {
    const failed =
      s.server.failed || s.baseline.failed ? ` (failed: ${s.server.failed}/${s.baseline.failed})` : "";
    lines.push(
      `| ${s.title}${failed} | ${throughput(s, s.server)} | ${ms(s.server.p50)} | ${ms(s.server.p99)} | ${s.baselineTitle} | ${throughput(s, s.baseline)} | ${ms(s.baseline.p50)} | ${ms(s.baseline.p99)} | ${Math.round(s.ratio * 100)}% | ${targetText(s)} | ${mark(s.met)} | ${s.server.cpuMicrosPerRequest ?? "?"} / ${s.baseline.cpuMicrosPerRequest ?? "?"} |`,
    );
  }
  const checks = ["", "| check | measured | target | met |", "|---|---:|---|---|"];
  for (const c of report.checks)
    checks.push(`| ${c.name} | ${c.value} | ${c.target} | ${c.met === null ? "—" : mark(c.met)} |`);
  return [...lines, ...checks].join("\n");
}

export function summary(report: Report): string {
  const m = report.machine;
  return [
    `Command: \`${report.command}\` (${report.mode} mode)`,
    `Date: ${report.date}`,
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB memory, Node ${m.node}, ${m.postgres}`,
  ].join("  \n");
}
