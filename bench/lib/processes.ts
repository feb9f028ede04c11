import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult, LoadSpec } from "../load/spec";
import { cpuMicrosOf } from "./cpu";

export const root = join(import.meta.dirname, "..", "..");
export const serverEntry = join(root, "apps", "server", "dist", "main.js");

// Every process the benchmark starts is tracked here, so a failure or Ctrl-C stops them all.
const running = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

export function stopAll(): void {
  for (const child of running) if (child.exitCode === null) child.kill("SIGKILL");
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** Resident set size of a process in bytes, from /proc. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (!kb) throw new Error(`No VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/** `pnpm turbo run build` of the server and the client, which the benchmarks run as built. */
export function buildServerAndClient(): void {
  const result = spawnSync(
    "pnpm",
    [
      "turbo",
      "run",
      "build",
      "--filter=@odyssey/server",
      "--filter=@odyssey/client",
      "--output-logs=errors-only",
    ],
    { cwd: root, stdio: "inherit" },
  );
  if (result.status !== 0) throw new Error("The build failed");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StartedServer {
  child: ChildProcess;
  pid: number;
  url: string;
  /** Milliseconds from spawn to the first 200 on /readyz. */
  readyAfterMs: number;
}

/**
 * The built server, as `pnpm start` runs it, on PORT=0. Its logs go to a file (never through
 * this process), which is also where the port it got is read from.
 */
export async function startServer(options: {
  env: Record<string, string>;
  logFile: string;
  nodeArgs?: string[];
  timeoutMs?: number;
}): Promise<StartedServer> {
  const started = performance.now();
  const log = openSync(options.logFile, "w");
  const child = track(
    spawn(process.execPath, [...(options.nodeArgs ?? []), serverEntry], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        PORT: "0",
        HOST: "127.0.0.1",
        // One key drives all the load: the per-key rate limits would measure themselves.
        RATE_LIMIT_CONTROL_PER_SECOND: "0",
        RATE_LIMIT_INGEST_PER_SECOND: "0",
        ...options.env,
      },
      stdio: ["ignore", "ignore", log],
    }),
  );
  closeSync(log);
  const deadline = started + (options.timeoutMs ?? 60_000);
  let url: string | undefined;
  while (performance.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`The server exited (${child.exitCode}); see ${options.logFile}`);
    if (!url) {
      const port = /"msg":"listening"/.test(readFileSync(options.logFile, "utf8"))
        ? /"port":(\d+)/.exec(readFileSync(options.logFile, "utf8"))?.[1]
        : undefined;
      if (port) url = `http://127.0.0.1:${port}`;
    }
    if (url) {
      const ready = await fetch(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return { child, pid: child.pid ?? -1, url, readyAfterMs: performance.now() - started };
    }
    await sleep(10);
  }
  child.kill("SIGKILL");
  throw new Error(
    `The server was not ready within ${options.timeoutMs ?? 60_000} ms; see ${options.logFile}`,
  );
}

/** A script of this folder under tsx, which prints one JSON line on stdout when it is ready or done. */
function spawnScript(script: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return track(
    spawn(process.execPath, ["--import", "tsx", join(root, "bench", script), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      const end = buffer.indexOf("\n");
      if (end >= 0) resolve(buffer.slice(0, end));
    });
    child.once("exit", (code) => reject(new Error(`${child.spawnargs.join(" ")} exited with ${code}`)));
  });
}

export async function startBaseline(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnScript("baseline/server.ts", [], { DATABASE_URL: databaseUrl });
  const { port } = JSON.parse(await firstLine(child)) as { port: number };
  return { child, url: `http://127.0.0.1:${port}` };
}

/**
 * Runs one load in its own process (so it does not share this process's event loop). With the
 * target's pid, also answers the CPU time the target spent per request: steadier than
 * throughput on a machine that other work shares.
 */
export async function runLoad(spec: LoadSpec, targetPid?: number): Promise<LoadResult> {
  const cpuBefore = targetPid ? cpuMicrosOf(targetPid) : 0;
  const child = spawnScript("load/main.ts", [JSON.stringify(spec)]);
  const line = await firstLine(child);
  await exited(child);
  const result = JSON.parse(line) as LoadResult;
  if (targetPid) {
    const requests = result.ok + result.failed + result.warmupRequests;
    result.cpuMicrosPerRequest = requests
      ? Math.round((cpuMicrosOf(targetPid) - cpuBefore) / requests)
      : undefined;
  }
  return result;
}
