import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

// The built server (apps/server/dist/main.js) as a child process, for tests of what only a
// whole process shows: signals, exit codes, several processes on one database.

/** Built once per run by the global setup (`build-server.ts`). */
const entry = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ServerProcess {
  url: string;
  pid: number;
  /** The key the server printed when it created the first organization, if it did. */
  firstKey: string | undefined;
  /** Everything the process wrote to stderr (its logs) so far. */
  logs(): string;
  /** Resolves once a log line matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
  /** Closes this end of its stderr and stdout pipes, as when whatever read them has exited. */
  closeOutput(): void;
}

/**
 * `closedStdout`: stdout's reader is gone from the start (`pnpm start | head -c 10`).
 * `untilListening: false` answers as soon as the process runs (its url is then empty).
 */
export async function startServerProcess(
  env: Record<string, string>,
  { closedStdout = false, untilListening = true } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [entry], {
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      RATE_LIMIT_CONTROL_PER_SECOND: "0",
      RATE_LIMIT_INGEST_PER_SECOND: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d) => {
    stderr += d.toString();
  });
  if (closedStdout) child.stdout.destroy();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const waitForLog = async (pattern: RegExp, timeoutMs = 30_000) => {
    const until = Date.now() + timeoutMs;
    while (!pattern.test(stderr)) {
      if (child.exitCode !== null || Date.now() > until)
        throw new Error(`no log line matching ${pattern}; stderr:\n${stderr}\nstdout:\n${stdout}`);
      await sleep(20);
    }
  };
  if (untilListening) await waitForLog(/"msg":"listening"/);
  const port = /"port":(\d+)/.exec(stderr)?.[1];
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    firstKey: /(ody_sk_[A-Za-z0-9_]+)/.exec(stdout)?.[1],
    logs: () => stderr,
    waitForLog,
    exited,
    kill: (signal = "SIGTERM") => {
      child.kill(signal);
    },
    closeOutput: () => {
      child.stdout.destroy();
      child.stderr.destroy();
    },
  };
}
