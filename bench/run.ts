import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { type BenchDatabase, createBenchDatabase } from "./lib/database";
import { updateDocs } from "./lib/docs";
import {
  buildServerAndClient,
  root,
  rssOf,
  runLoad,
  startBaseline,
  startServer,
  stop,
  stopAll,
} from "./lib/processes";
import { type Check, machine, type Report, type ScenarioResult, summary, table } from "./lib/report";
import { inspectorArgs, type RetainedMemory, retainedMemory } from "./lib/retained";
import { type Scenario, scenarios } from "./lib/scenarios";
import { seed } from "./lib/seed";
import type { LoadResult, LoadSpec } from "./load/spec";

const usage = `Usage: pnpm bench [--quick] [--profile] [--only <id,id>]

  --quick     small seeds and short runs (under a minute), for CI smoke; writes JSON only
  --profile   run the server under node --cpu-prof; profiles go to the results folder
  --only      run only these scenario ids (healthz, rest-get, trpc-get, rest-create, rest-put, …)
  --duration  seconds per measured run (default 10, quick 1)`;

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    only: { type: "string" },
    duration: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const quick = values.quick;
const settings = quick
  ? {
      timing: { connections: 50, duration: 1, warmup: 0 },
      repeats: 1,
      updateJourneys: 50,
      retrieveEvents: 10_000,
      coldStarts: 1,
      idleSeconds: 0,
    }
  : {
      timing: { connections: 50, duration: 10, warmup: 3 },
      repeats: 2,
      updateJourneys: 1000,
      retrieveEvents: 1_000_000,
      coldStarts: 3,
      idleSeconds: 60,
    };

if (values.duration) settings.timing.duration = Number(values.duration);

const MiB = 2 ** 20;
const memoryLimitMiB = 200;
const coldStartLimitMs = 5000;
/** Allocator and JIT noise: a second identical pass may end a little higher without a leak. */
const growthToleranceMiB = 8;

/** In every slug this run creates, so runs never collide. */
const runId = randomBytes(3).toString("hex");
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const resultsDir = join(root, "bench", "results", stamp);
let database: BenchDatabase | undefined;

async function cleanUp() {
  stopAll();
  await database?.drop().catch((error) => console.error(`Could not drop ${database?.name}: ${error}`));
}

for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the benchmark`);
    void cleanUp().finally(() => process.exit(130));
  });

const log = (line: string) => process.stderr.write(`${line}\n`);

const best = (results: LoadResult[]) =>
  results.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));

interface Target {
  url: string;
  pid: number;
}

async function measure(scenario: Scenario, server: Target, baseline: Target, replays: LoadSpec[]) {
  const samples = { server: [] as LoadResult[], baseline: [] as LoadResult[] };
  for (let rep = 0; rep < settings.repeats; rep++) {
    // Alternating sides, so drift in the machine's load falls on both.
    const serverSpec = scenario.server(server.url, `s${rep}x${runId}`);
    replays.push(serverSpec);
    samples.server.push(await runLoad(serverSpec, server.pid));
    samples.baseline.push(await runLoad(scenario.baseline(baseline.url, `b${rep}x${runId}`), baseline.pid));
  }
  const serverBest = best(samples.server);
  const baselineBest = best(samples.baseline);
  const ratio = serverBest.requestsPerSecond / baselineBest.requestsPerSecond;
  const met =
    ratio >= scenario.target.minRatio &&
    (scenario.target.maxP99Ms === undefined || serverBest.p99 < scenario.target.maxP99Ms) &&
    serverBest.failed === 0;
  const result: ScenarioResult = {
    id: scenario.id,
    title: scenario.title,
    baselineTitle: scenario.baselineTitle,
    unit: scenario.rowsPerRequest > 1 ? "rows/s" : "req/s",
    server: serverBest,
    baseline: baselineBest,
    samples,
    ratio,
    target: scenario.target,
    met,
  };
  const s = serverBest;
  const b = baselineBest;
  log(
    `  ${scenario.id}: server ${Math.round(s.requestsPerSecond)} req/s p99 ${s.p99} ms ${s.cpuMicrosPerRequest} µs CPU/req, baseline ${Math.round(b.requestsPerSecond)} req/s p99 ${b.p99} ms ${b.cpuMicrosPerRequest} µs CPU/req → ${Math.round(ratio * 100)}%${s.failed ? ` (${s.failed} failed: ${JSON.stringify(s.failures)})` : ""}`,
  );
  return result;
}

/** The lowest RSS of the idle server, read every 5 s for `seconds` (none for 0). */
async function idleRss(pid: number, seconds: number) {
  if (seconds <= 0) return undefined;
  log(`Server idle for ${seconds} s, reading its RSS every 5 s`);
  let lowest = { rss: rssOf(pid), afterSeconds: 0 };
  for (let waited = 5; waited <= seconds; waited += 5) {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const rss = rssOf(pid);
    if (rss < lowest.rss) lowest = { rss, afterSeconds: waited };
  }
  return lowest;
}

const inMiB = (memory: RetainedMemory) => ({ rssMiB: memory.rss / MiB, heapUsedMiB: memory.heapUsed / MiB });
const signed = (n: number) => `${n >= 0 ? "+" : ""}${n.toFixed(1)}`;

/**
 * Growth is judged after a full collection at the end of each pass: what the server keeps, not
 * how much garbage V8 had yet to collect when RSS was read.
 */
function growthCheck(first: RetainedMemory, second: RetainedMemory): Check {
  const [from, to] = [inMiB(first), inMiB(second)];
  const growth = to.rssMiB - from.rssMiB;
  return {
    name: "RSS growth between two identical passes, each read after a full garbage collection",
    value: `${from.rssMiB.toFixed(0)} → ${to.rssMiB.toFixed(0)} MiB (${signed(growth)}); V8 heap in use ${from.heapUsedMiB.toFixed(1)} → ${to.heapUsedMiB.toFixed(1)} MiB`,
    target: `none (≤ ${growthToleranceMiB} MiB noise)`,
    met: growth <= growthToleranceMiB,
  };
}

async function coldStart(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), "odyssey-cold-"));
  try {
    const server = await startServer({
      env: { ODYSSEY_DATA_DIR: dataDir },
      logFile: join(resultsDir, "cold-start.log"),
      timeoutMs: 30_000,
    });
    await stop(server.child);
    return server.readyAfterMs;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function postgresVersion(url: string) {
  const sql = postgres(url, { max: 1 });
  try {
    const [row] = await sql<{ server_version: string }[]>`show server_version`;
    return `PostgreSQL ${row?.server_version.split(" ")[0]}`;
  } finally {
    await sql.end();
  }
}

async function main() {
  const startedAt = performance.now();
  log("Building the server and the client (turbo)…");
  buildServerAndClient();
  mkdirSync(resultsDir, { recursive: true });
  database = await createBenchDatabase();
  log(`Bench database ${database.name}`);
  const seeded = await seed(database.url, {
    updateJourneys: settings.updateJourneys,
    retrieveEvents: settings.retrieveEvents,
  });

  const serverLog = join(resultsDir, "server.log");
  const server = await startServer({
    env: { DATABASE_URL: database.url },
    logFile: serverLog,
    nodeArgs: [
      ...inspectorArgs,
      ...(values.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(resultsDir, "profiles")}`] : []),
    ],
  });
  const baseline = await startBaseline(database.url);
  const targets = {
    server: { url: server.url, pid: server.pid },
    baseline: { url: baseline.url, pid: baseline.child.pid ?? -1 },
  };
  log(`Server ${server.url} (pid ${server.pid}), baseline ${baseline.url}`);

  const only = values.only?.split(",");
  const chosen = scenarios(seeded, settings.timing).filter((s) => !only || only.includes(s.id));
  const replays: LoadSpec[] = [];
  const results: ScenarioResult[] = [];
  for (const scenario of chosen)
    results.push(await measure(scenario, targets.server, targets.baseline, replays));
  const rssAfterFirstPass = rssOf(server.pid);
  const idleAfterFirstPass = await idleRss(server.pid, settings.idleSeconds);
  const retainedAfterFirstPass = await retainedMemory(server.pid, serverLog);

  log("Second identical pass on the server, for memory growth");
  for (const spec of replays) await runLoad({ ...spec, tag: `${spec.tag}r` });
  const rssAfterSecondPass = rssOf(server.pid);
  const idle = await idleRss(server.pid, settings.idleSeconds);
  const retained = await retainedMemory(server.pid, serverLog);
  await stop(server.child);
  await stop(baseline.child);

  log("Cold start on the embedded database");
  const coldStartMs: number[] = [];
  for (let i = 0; i < settings.coldStarts; i++) coldStartMs.push(await coldStart());
  const coldMedian = [...coldStartMs].sort((a, b) => a - b)[Math.floor(coldStartMs.length / 2)] ?? Infinity;

  const first = rssAfterFirstPass / MiB;
  const second = rssAfterSecondPass / MiB;
  // At the instant the load stops, RSS includes garbage V8 has not collected yet; its memory
  // reducer collects it once the process has been idle for a while (30 to more than 60 s here).
  // The limit is judged on the idle figure; the end-of-load figure is reported beside it.
  const idleMiB = idle ? idle.rss / MiB : null;
  const checks: Check[] = [
    {
      name: "server RSS at the end of the load (garbage not yet collected included)",
      value: `${second.toFixed(0)} MiB`,
      target: "reported",
      met: null,
    },
    {
      name: idle
        ? `server RSS after the whole run, idle (lowest within ${settings.idleSeconds} s, reached after ${idle.afterSeconds} s)`
        : "server RSS after the whole run, idle (not waited for in quick mode)",
      value: idleMiB === null ? "—" : `${idleMiB.toFixed(0)} MiB`,
      target: `< ${memoryLimitMiB} MiB`,
      met: idleMiB === null ? null : idleMiB < memoryLimitMiB,
    },
    growthCheck(retainedAfterFirstPass, retained),
    {
      name: `cold start, embedded database, to first 200 on /readyz (median of ${coldStartMs.length})`,
      value: `${(coldMedian / 1000).toFixed(2)} s`,
      target: `< ${coldStartLimitMs / 1000} s`,
      met: coldMedian < coldStartLimitMs,
    },
  ];

  const report: Report = {
    date: new Date().toISOString(),
    command: `pnpm bench${quick ? " --quick" : ""}${values.only ? ` --only ${values.only}` : ""}`,
    mode: quick ? "quick" : "full",
    machine: machine(await postgresVersion(database.url)),
    scenarios: results,
    checks,
    memory: {
      rssAfterFirstPassMiB: first,
      rssAfterSecondPassMiB: second,
      rssIdleAfterFirstPassMiB: idleAfterFirstPass ? idleAfterFirstPass.rss / MiB : null,
      rssIdleMiB: idleMiB,
      rssIdleAfterSeconds: idle?.afterSeconds ?? null,
      retainedAfterFirstPass: inMiB(retainedAfterFirstPass),
      retainedAfterSecondPass: inMiB(retained),
    },
    coldStartMs,
  };
  const text = table(report);
  console.log(`\n${summary(report)}\n\n${text}\n`);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(resultsDir, "results.json"), json);
  writeFileSync(join(root, "bench", "results", "latest.json"), json);
  log(`Results: ${join(resultsDir, "results.json")}`);
  if (!quick && !values.only) {
    updateDocs(report);
    log("Updated docs/benchmarks.md");
  }
  log(`Done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

main()
  .then(() => cleanUp())
  .catch(async (error) => {
    console.error(error);
    await cleanUp();
    process.exit(1);
  });
