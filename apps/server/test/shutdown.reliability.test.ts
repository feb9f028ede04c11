import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { queryRows } from "@odyssey/db";
import { createTestDatabase, type TestDatabase, testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { REPEAT_WINDOW_MS } from "../src/stop-signals";
import { type ServerProcess, startServerProcess } from "./support/built-server";
import { StatusTally, writeFigures } from "./support/figures";
import { bodyOf, rawRequest, statusOf } from "./support/raw-http";

// SIGTERM on the built server under load, on the run's engine (a Postgres database of its own,
// or the embedded database in a folder of its own).

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startOnOwnDatabase(
  env: Record<string, string> = {},
  options: { closedStdout?: boolean; untilListening?: boolean } = {},
): Promise<{ server: ServerProcess; database?: TestDatabase; dataDir?: string }> {
  if (testEngine() === "postgres") {
    const database = await createTestDatabase({ maxConnections: 1 });
    cleanups.push(() => database.close());
    const server = await startServerProcess({ DATABASE_URL: database.url ?? "", ...env }, options);
    cleanups.push(() => server.kill("SIGKILL"));
    return { server, database };
  }
  const dataDir = mkdtempSync(join(tmpdir(), "odyssey-shutdown-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const server = await startServerProcess({ ODYSSEY_DATA_DIR: dataDir, ...env }, options);
  cleanups.push(() => server.kill("SIGKILL"));
  return { server, dataDir };
}

const exitsWithin = (server: ServerProcess, ms: number) =>
  Promise.race([server.exited, new Promise((r) => setTimeout(() => r("still running"), ms))]);

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One GET on a connection of its own: its status, or how it failed when no answer came. */
function getOnce(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () =>
        resolve(body === '{"status":"ok"}' ? (res.statusCode ?? 0) : `truncated ${res.statusCode}`),
      );
      res.on("error", () => resolve(`broken ${res.statusCode}`));
    });
    req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    req.end();
  });
}

const uploadHead = (key: string, length: number) =>
  `POST /api/journeys/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

/** A journey creation held in flight: its head and the body's first bytes now, the rest on `release()`. */
function heldCreate(server: ServerProcess, slug: string) {
  const body = JSON.stringify({ slug, displayName: slug });
  let release: () => void = () => {};
  const released = new Promise<string>((resolve) => {
    release = () => resolve(body.slice(10));
  });
  const upload = rawRequest(
    server.url,
    [uploadHead(server.firstKey ?? "", Buffer.byteLength(body)), body.slice(0, 10), released],
    { waitMs: 15_000 },
  );
  return { upload, release };
}

describe("graceful shutdown of the built server", () => {
  it("on SIGTERM: readiness fails, new connections are refused, requests in flight finish, the pool closes, exit 0 within 10 s", async () => {
    const { server, database } = await startOnOwnDatabase();
    const key = server.firstKey ?? "";
    expect(key).toMatch(/^ody_sk_/);

    // Requests in flight at the signal: their bodies are half sent, so they cannot finish before it.
    const bodies = Array.from({ length: 4 }, (_, i) =>
      JSON.stringify({
        slug: `in-flight-${i}`,
        displayName: `In flight ${i}`,
        steps: [{ stepKey: "a", index: 0 }],
      }),
    );
    const halves = bodies.map((b) => b.slice(0, 20));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const uploads = bodies.map((body, i) =>
      rawRequest(
        server.url,
        [uploadHead(key, Buffer.byteLength(body)), halves[i] ?? "", released.then(() => body.slice(20))],
        {
          waitMs: 15_000,
        },
      ),
    );
    // A readiness probe in flight too: its head is not complete yet.
    const probe = rawRequest(
      server.url,
      ["GET /readyz HTTP/1.1\r\nHost: x\r\n", released.then(() => "\r\n")],
      {
        waitMs: 15_000,
      },
    );

    // Load on fresh connections, before and after the signal.
    const load = new StatusTally();
    let loading = true;
    const loaders = Array.from({ length: 3 }, async () => {
      for (let n = 0; loading && n < 2000; n++) load.add(await getOnce(server.url));
    });

    await new Promise((r) => setTimeout(r, 300));
    const activeBefore = database ? await backends(database) : undefined;
    const signalledAt = performance.now();
    server.kill("SIGTERM");
    await server.waitForLog(/"msg":"shutting down"/);
    const refused = await getOnce(server.url);
    release();
    const [answers, readiness] = await Promise.all([Promise.all(uploads), probe]);
    const exit = await server.exited;
    const exitMs = performance.now() - signalledAt;
    loading = false;
    await Promise.all(loaders);

    expect(refused).toBe("ECONNREFUSED");
    expect(statusOf(readiness.response)).toBe(503);
    expect(bodyOf(readiness.response)).toEqual({ ready: false });
    for (const [i, answer] of answers.entries()) {
      expect(statusOf(answer.response)).toBe(201);
      expect(bodyOf(answer.response)).toMatchObject({ slug: `in-flight-${i}`, steps: [{ stepKey: "a" }] });
    }
    // Load requests either got their full answer or were never let in.
    expect(
      Object.keys(load.counts).filter((k) => !["200", "ECONNREFUSED", "ECONNRESET"].includes(k)),
    ).toEqual([]);
    expect(load.counts["200"]).toBeGreaterThan(0);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(10_000);
    expect(server.logs()).toMatch(/"msg":"stopped"/);
    if (database) {
      expect(activeBefore).toBeGreaterThan(0);
      expect(await backends(database)).toBe(0);
      const stored = await queryRows<{ n: number }>(
        database.db,
        sql`select count(*)::int as n from journeys where slug like 'in-flight-%'`,
      );
      expect(stored[0]?.n).toBe(bodies.length);
    }
    writeFigures("shutdown", {
      requestsInFlightAtSignal: bodies.length + 1,
      loadRequests: load.total,
      loadAnswers: load.counts,
      exitCode: exit.code,
      exitMs: Math.round(exitMs),
    });
  });

  it("on SIGTERM during startup: stops at its next step, closes the database and its folder's lock, exit 0", async () => {
    const { server, database, dataDir } = await startOnOwnDatabase({}, { untilListening: false });
    // The start is under way once it holds the data folder's lock, or a connection to Postgres.
    const lockFile = join(dataDir ?? "", "odyssey.pid");
    await until(async () => (database ? (await backends(database)) > 0 : existsSync(lockFile)), 30_000);
    server.kill("SIGTERM");
    expect(await exitsWithin(server, 10_000)).toEqual({ code: 0, signal: null });
    expect(server.logs()).toMatch(/"msg":"stopped"/);
    if (database) expect(await backends(database)).toBe(0);
    else expect(existsSync(lockFile)).toBe(false);
    // The next start on the same database serves.
    const again = await startServerProcess(
      database ? { DATABASE_URL: database.url ?? "" } : { ODYSSEY_DATA_DIR: dataDir ?? "" },
    );
    cleanups.push(() => again.kill("SIGKILL"));
    expect(await getOnce(again.url)).toBe(200);
  });

  it("on SIGTERM while the server is still loading its code: stops before it starts, exit 0", async () => {
    // The hook holds back a module the server loads after its entry, and says so on stderr.
    const hooks = pathToFileURL(join(import.meta.dirname, "support", "slow-load-hooks.mjs"));
    const { server } = await startOnOwnDatabase(
      { NODE_OPTIONS: `--import ${hooks}` },
      { untilListening: false },
    );
    await server.waitForLog(/test hook: holding back pino/);
    server.kill("SIGTERM");
    expect(await exitsWithin(server, 10_000)).toEqual({ code: 0, signal: null });
    expect(server.logs()).toMatch(/"msg":"stopped"/);
    expect(server.logs()).not.toMatch(/"msg":"listening"/);
  });

  it("closes a connection whose request head stalled halfway, and exits 0 once the requests in flight are answered", async () => {
    const { server } = await startOnOwnDatabase({ SHUTDOWN_TIMEOUT_MS: "20000" });
    // A request in flight, and a head that never ends (no request the app is handling).
    const { upload, release } = heldCreate(server, "beside-a-stalled-head");
    const stalled = rawRequest(server.url, ["GET /api/journeys HTTP/1.1\r\nHost: x\r\n"], { waitMs: 30_000 });
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = performance.now();
    server.kill("SIGTERM");
    await server.waitForLog(/"msg":"shutting down"/);
    await new Promise((r) => setTimeout(r, 200));
    release();
    const [answer, head, exit] = await Promise.all([upload, stalled, server.exited]);
    const exitMs = performance.now() - signalledAt;

    expect(statusOf(answer.response)).toBe(201);
    expect(head.closedByServer).toBe(true);
    expect(statusOf(head.response)).toBe(408);
    expect(bodyOf(head.response)).toEqual({ error: "The request was not received in time" });
    expect(exit).toEqual({ code: 0, signal: null });
    // Well before the shutdown deadline: nothing waited on the stalled head.
    expect(exitMs).toBeLessThan(8000);
    expect(server.logs()).not.toMatch(/shutdown deadline/);
  });

  it("exits at once, with a failure code, on a second signal while requests still run", async () => {
    const { server } = await startOnOwnDatabase({ SHUTDOWN_TIMEOUT_MS: "30000" });
    // A request that will not finish: its body never comes.
    const stuck = rawRequest(server.url, [uploadHead(server.firstKey ?? "", 100), "{"], { waitMs: 15_000 });
    await new Promise((r) => setTimeout(r, 200));
    server.kill("SIGTERM");
    await server.waitForLog(/"msg":"shutting down"/);
    await new Promise((r) => setTimeout(r, REPEAT_WINDOW_MS));
    server.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.logs()).toMatch(/second signal/);
    expect((await stuck).closedByServer).toBe(true);
  });

  it("takes signals within a second of the first as the same request (one Ctrl-C under pnpm): the request in flight is answered, exit 0", async () => {
    const { server } = await startOnOwnDatabase({ SHUTDOWN_TIMEOUT_MS: "20000" });
    const { upload, release } = heldCreate(server, "through-a-repeated-signal");
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = performance.now();
    // The terminal's SIGINT, pnpm's own passed on, and a SIGTERM (how `pnpm exec` passes it on).
    server.kill("SIGINT");
    server.kill("SIGINT");
    await server.waitForLog(/"msg":"shutting down"/);
    server.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    expect(performance.now() - signalledAt).toBeLessThan(REPEAT_WINDOW_MS);
    release();
    const [answer, exit] = await Promise.all([upload, server.exited]);
    expect(statusOf(answer.response)).toBe(201);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.logs()).not.toMatch(/second signal/);
    expect(server.logs().match(/"msg":"shutting down"/g)).toHaveLength(1);
  });
});

// Logging is best effort once nothing reads it: a signal still ends the process.
describe("a server whose output pipes are closed", () => {
  it("exits 0 on SIGTERM after whatever read its stderr and stdout has gone", async () => {
    const { server } = await startOnOwnDatabase();
    server.closeOutput();
    // Lines to log into the closed pipe: a request, then the shutdown's own.
    expect(await getOnce(server.url)).toBe(200);
    server.kill("SIGTERM");
    expect(await exitsWithin(server, 5000)).toEqual({ code: 0, signal: null });
  });

  it("survives printing the first key into a closed stdout, and releases its data folder on SIGTERM", async () => {
    const { server, dataDir } = await startOnOwnDatabase({}, { closedStdout: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(await getOnce(server.url)).toBe(200);
    server.kill("SIGTERM");
    expect(await exitsWithin(server, 5000)).toEqual({ code: 0, signal: null });
    if (dataDir) expect(existsSync(join(dataDir, "odyssey.pid"))).toBe(false);
  });
});

/** Connections the server process holds to its database. */
async function backends(database: TestDatabase): Promise<number> {
  const name = new URL(database.url ?? "").pathname.slice(1);
  const rows = await queryRows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from pg_stat_activity where datname = ${name} and application_name = 'odyssey' and pid <> pg_backend_pid()`,
  );
  return rows[0]?.n ?? 0;
}
