import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A Postgres cluster of the test's own (initdb into a temp dir, its own port), so a test may stop
 * and restart a real server without touching the shared one. Needs the Debian postgresql package
 * and `runuser`: initdb and pg_ctl refuse to run as root, so they run as the `postgres` user.
 */
export interface PrivatePostgres {
  /** URL of the cluster's `postgres` database (trust auth, user postgres). */
  url: string;
  port: number;
  /** `pg_ctl stop -m fast`: sessions are ended (57P01) and new connections refused. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster if running and removes its directory; safe to call more than once. */
  destroy(): Promise<void>;
}

const PG_ROOT = "/usr/lib/postgresql";
const PG_CTL_TIMEOUT_S = "30";

function postgresBin(): string {
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((v) => existsSync(join(PG_ROOT, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const version = versions[0];
  if (!version)
    throw new Error(`no Postgres server binaries under ${PG_ROOT} (install Debian's postgresql package)`);
  return join(PG_ROOT, version, "bin");
}

// Asynchronous: the app under test shares this process, and must keep serving while pg_ctl waits.
async function asPostgres(command: string, args: string[]): Promise<void> {
  try {
    await run("runuser", ["-u", "postgres", "--", command, ...args], { timeout: 60_000 });
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`runuser -u postgres -- ${command} failed: ${stderr?.toString().trim() || message}`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), "odyssey-pg-"));
  const dataDir = join(dir, "data");
  const logFile = join(dir, "server.log");
  const pgCtl = (...args: string[]) =>
    asPostgres(join(bin, "pg_ctl"), [...args, "-D", dataDir, "-w", "-t", PG_CTL_TIMEOUT_S]);
  const destroy = async () => {
    // A postmaster.pid means a server may be running, even if a start call failed half-way.
    if (existsSync(join(dataDir, "postmaster.pid"))) {
      try {
        await pgCtl("stop", "-m", "immediate");
      } catch {
        // Already down: nothing more to stop.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The postgres user needs the directory; ids come from its passwd entry through `id`.
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
    const port = await freePort();
    await asPostgres(join(bin, "initdb"), [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--auth=trust",
      "--no-sync",
      "-E",
      "UTF8",
    ]);
    const options = [
      "-c listen_addresses=127.0.0.1",
      `-c port=${port}`,
      `-c unix_socket_directories=${dir}`,
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
    ].join(" ");
    const start = async () => {
      await pgCtl("start", "-l", logFile, "-o", options);
    };
    await start();
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      async stop() {
        await pgCtl("stop", "-m", "fast");
      },
      start,
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
