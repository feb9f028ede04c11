import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDatabase, queryRows } from "@odyssey/db";
import { createServerDatabase, testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import postgres from "postgres";

// The CLI and the server as real subprocesses, on a fresh, empty (unmigrated) database of the
// run's engine: a new Postgres database, or a new embedded data folder.

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const cliPath = join(root, "apps/server/bin/odyssey.mjs");
const mainPath = join(root, "apps/server/dist/main.js");

/** Every process bound: a hung child is killed rather than left running. */
const PROCESS_LIMIT_MS = 60_000;

const configVariables = [
  "PORT",
  "HOST",
  "DATABASE_URL",
  "ODYSSEY_DATA_DIR",
  "DATABASE_POOL_SIZE",
  "LOG_LEVEL",
  "MAX_BODY_BYTES",
  "REQUEST_TIMEOUT_MS",
  "SHUTDOWN_TIMEOUT_MS",
];

/** The test's environment without any Odyssey setting, plus `extra`. */
export function processEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of configVariables) delete env[name];
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>): Promise<RunResult> {
  return run(process.execPath, [cliPath, ...args], processEnv(env));
}

/** The CLI as a child process the test can signal; its output is piped. */
export function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], {
    cwd: root,
    env: processEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** How to run a process as someone else: a command that runs the rest, such as setpriv's. */
interface RunAs {
  as?: string[];
}

/** The command and arguments that start `args` with node, through `as` when given. */
function node(args: string[], { as = [] }: RunAs = {}): [string, string[]] {
  const [command, ...prefix] = [...as, process.execPath];
  return [command as string, [...prefix, ...args]];
}

export function runMain(env: Record<string, string>, options?: RunAs): Promise<RunResult> {
  return run(...node([mainPath], options), processEnv(env));
}

/** The server as a child process the test can signal, without waiting for it to listen. */
export function spawnMain(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [mainPath], {
    cwd: root,
    env: processEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), PROCESS_LIMIT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RunningServer {
  url: string;
  stdout(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash would end it; resolves once it is gone. */
  kill(): Promise<void>;
}

const running = new Set<RunningServer>();

/** Stops every server startServer() started that is still running (for afterAll). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

/** Starts `node apps/server/dist/main.js` on a port the OS picks; resolves once it listens. */
export function startServer(env: Record<string, string>, options?: RunAs): Promise<RunningServer> {
  const child: ChildProcess = spawn(...node([mainPath], options), {
    cwd: root,
    env: processEnv({ PORT: "0", HOST: "127.0.0.1", ...env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const killer = setTimeout(() => child.kill("SIGKILL"), PROCESS_LIMIT_MS * 2);
  return new Promise((resolve, reject) => {
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
      const line = stderr.split("\n").find((l) => l.includes('"msg":"listening"'));
      if (!line) return;
      const { port } = JSON.parse(line) as { port: number };
      const server: RunningServer = {
        url: `http://127.0.0.1:${port}`,
        stdout: () => stdout,
        async stop() {
          child.kill("SIGTERM");
          const code = await exited;
          clearTimeout(killer);
          running.delete(server);
          return code;
        },
        async kill() {
          child.kill("SIGKILL");
          await exited;
          clearTimeout(killer);
          running.delete(server);
        },
      };
      running.add(server);
      resolve(server);
    });
    void exited.then((code) => {
      clearTimeout(killer);
      reject(new Error(`server exited (${code}) before listening:\n${stderr}`));
    });
  });
}

export interface FreshDatabase {
  /** DATABASE_URL or ODYSSEY_DATA_DIR, whichever the engine needs. */
  env: Record<string, string>;
  /** Rows in `table`; on the embedded engine only while no process holds the folder. */
  count(table: "organizations" | "api_keys" | "journeys" | "events"): Promise<number>;
  /** Whether the migrations have created the schema. */
  migrated(): Promise<boolean>;
  /** Runs one SQL statement; on the embedded engine only while no process holds the folder. */
  execute(statement: string): Promise<void>;
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<FreshDatabase> {
  if (testEngine() === "pglite") {
    const dataDir = mkdtempSync(join(tmpdir(), "odyssey-cli-"));
    const query = async <T extends Record<string, unknown>>(statement: ReturnType<typeof sql>) => {
      const handle = createDatabase({ dataDir });
      try {
        return await queryRows<T>(handle.db, statement);
      } finally {
        await handle.close();
      }
    };
    return {
      env: { ODYSSEY_DATA_DIR: dataDir },
      count: async (table) =>
        (await query<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)}`))[0]?.n ??
        -1,
      // An empty folder has no database yet; opening it to look would create one.
      migrated: async () =>
        readdirSync(dataDir).length > 0 &&
        (await query<{ t: string | null }>(sql`select to_regclass('public.journeys')::text as t`))[0]?.t !==
          null,
      execute: async (statement) => {
        await query(sql.raw(statement));
      },
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const server = await createServerDatabase("odyssey_cli");
  const client = postgres(server.url, { max: 1, onnotice: () => {} });
  return {
    env: { DATABASE_URL: server.url },
    count: async (table) => (await client.unsafe(`select count(*)::int as n from ${table}`))[0]?.n ?? -1,
    migrated: async () => (await client`select to_regclass('public.journeys')::text as t`)[0]?.t !== null,
    execute: async (statement) => {
      await client.unsafe(statement);
    },
    async drop() {
      await client.end();
      await server.drop();
    },
  };
}
