// pnpm bench:ingest — ingestion throughput and Retrieve latency against real Postgres.
//
// 1. Events/s through POST /api/events (batches of 100, several concurrent clients), next to a
//    raw postgres.js UNNEST insert of the same rows into a bare table, in the same run. For each
//    side, the CPU it cost per batch (read from /proc): the server's, Postgres's (when it runs on
//    this machine), this process's clients', and how much of the machine stayed idle.
// 2. Retrieve (GET /api/journeys/{slug}) p50/p99 on a journey with 10 thousand events and on one
//    with 1 million. Both have the same traffic in the last 30 days; the large one carries the
//    rest as older history, which is what "cost does not grow with all events stored" promises.
//    One new event is stored before each timed call, so each computes the analytics afresh.
//
// Settings (environment): BENCH_DATABASE_URL (a server database used to create and drop the
// bench database; default postgres://postgres@127.0.0.1:5432/postgres), BENCH_EVENTS (events sent
// over HTTP, default 60000), BENCH_CLIENTS (default 4), BENCH_WARMUP_S (the least time each
// side warms up for, default 10), BENCH_LARGE_EVENTS (default 1000000),
// BENCH_RETRIEVES (Retrieve calls per journey, default 300). Every loop is bounded by these counts
// and by BENCH_DEADLINE_S (default 900): past it the run stops with an error. BENCH_KEEP_DATABASE=1
// keeps the bench database afterwards (its name is printed), to look at its plans and tables.
// BENCH_SERVER_NODE_ARGS passes Node options to the server (`--cpu-prof --cpu-prof-dir=<dir>`
// profiles it; `node --import tsx bench/profile.ts <dir>` summarises the profile).

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ingestEvents } from "../packages/api/src/events/ingest.ts";
import { createApiKey } from "../packages/api/src/index.ts";
import { createDatabase } from "../packages/db/src/index.ts";
import { createBareEventsTable, insertBareEvents } from "./lib/bare-insert.ts";
import { type CpuSplit, measureCpu } from "./lib/cpu.ts";
import { type BenchEvent, DEFAULT_STEPS, events, inBatches } from "./lib/events.ts";
import { p50p99 } from "./lib/percentile.ts";
import { buildServerAndClient, type StartedServer, startServer, stop, stopAll } from "./lib/processes.ts";
import { positiveIntSetting } from "./lib/settings.ts";

const fromServer = createRequire(new URL("../apps/server/package.json", import.meta.url));
const postgres = (await import(fromServer.resolve("postgres"))).default;

const setting = (name: string) => process.env[name];
const adminUrl = setting("BENCH_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const HTTP_EVENTS = positiveIntSetting("BENCH_EVENTS", 60_000);
const CLIENTS = positiveIntSetting("BENCH_CLIENTS", 4);
const WARMUP_S = positiveIntSetting("BENCH_WARMUP_S", 10);
const LARGE_EVENTS = positiveIntSetting("BENCH_LARGE_EVENTS", 1_000_000);
const SMALL_EVENTS = 10_000;
const RETRIEVES = positiveIntSetting("BENCH_RETRIEVES", 300);
const BATCH = 100;
const deadline = Date.now() + positiveIntSetting("BENCH_DEADLINE_S", 900) * 1000;
let interrupted = false;
// Ctrl-C stops at the next batch, so the bench database is still dropped.
process.once("SIGINT", () => {
  interrupted = true;
});
const checkDeadline = () => {
  if (interrupted) throw new Error("Interrupted: stopping");
  if (Date.now() > deadline) throw new Error("BENCH_DEADLINE_S passed: stopping");
};

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

/** A phase's CPU per batch, by process, and how idle the machine stayed. */
function describeCpu(cpu: CpuSplit, clients: string): string {
  const ms = (value: number | null) => (value === null ? "n/a" : `${value.toFixed(2)} ms`);
  return `server ${ms(cpu.server)}, Postgres ${ms(cpu.postgres)}, ${clients} ${ms(cpu.clients)}; machine ${(cpu.idleShare * 100).toFixed(0)}% idle`;
}

async function main() {
  process.stderr.write("Building the server (turbo)…\n");
  buildServerAndClient();
  const name = `odyssey_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = createDatabase({ url: url.toString(), maxConnections: 10 });
  const raw = postgres(url.toString(), { max: CLIENTS, onnotice: () => {} });
  const logDir = mkdtempSync(join(tmpdir(), "odyssey-bench-ingest-"));
  let server: StartedServer | undefined;
  try {
    await database.migrate();
    // The built server in its own process, as `pnpm start` runs it (and as `pnpm bench` does): the
    // clients' calls must not share its event loop. It runs without the per-key rate limits.
    server = await startServer({
      env: { DATABASE_URL: url.toString() },
      logFile: join(logDir, "server.log"),
      nodeArgs: setting("BENCH_SERVER_NODE_ARGS")?.split(" ").filter(Boolean),
    });
    const base = server.url;
    const { key, orgId } = await createApiKey(database.db, { orgSlug: "bench", kind: "secret" });
    const create = async (slug: string) => {
      const res = await fetch(`${base}/api/journeys/create`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          slug,
          displayName: slug,
          steps: DEFAULT_STEPS.map((stepKey, index) => ({ stepKey, index })),
        }),
      });
      if (res.status !== 201) throw new Error(`create ${slug}: ${res.status}`);
    };
    await create("ingest");
    await create("small");
    await create("large");
    const now = Date.now();

    // 1. Ingestion over HTTP, then the same rows raw. Each side first runs other events, not
    // timed, so both are measured warm (compiled code, connections, caches): a fifth as many, and
    // for at least BENCH_WARMUP_S seconds, since the server's code kept being compiled for about
    // 10 s of this load on the 2-core machine (docs/benchmarks.md).
    const sent = events(HTTP_EVENTS, now - 20 * DAY, now - MIN, "http");
    // `prepare` runs for every timed batch before the clock starts: the clients' own work
    // (serializing the HTTP bodies) is not the service's, and it would share the server's cores.
    const runClients = async <T>(prepare: (batch: BenchEvent[]) => T, send: (batch: T) => Promise<void>) => {
      const run = async (nextBatch: () => T | undefined) => {
        await Promise.all(
          Array.from({ length: CLIENTS }, async () => {
            for (let batch = nextBatch(); batch !== undefined; batch = nextBatch()) {
              checkDeadline();
              await send(batch);
            }
          }),
        );
      };
      const warmUntil = performance.now() + WARMUP_S * 1000;
      const warmBatches = Math.ceil(HTTP_EVENTS / 5 / BATCH);
      let warmed = 0;
      await run(() =>
        warmed < warmBatches || performance.now() < warmUntil
          ? prepare(events(BATCH, now - 20 * DAY, now - MIN, `warm-${warmed++}`))
          : undefined,
      );
      const timedBatches = inBatches(sent, BATCH).map(prepare);
      let next = 0;
      const cpu = measureCpu(server?.pid);
      const started = performance.now();
      await run(() => timedBatches[next++]);
      const rate = sent.length / ((performance.now() - started) / 1000);
      return { rate, cpu: cpu(timedBatches.length) };
    };
    // node:http with kept-alive connections, one per client: fetch's own CPU per call was about
    // as much as the server's on this 2-core machine.
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    const eventsUrl = new URL(`${base}/api/events`);
    const http = await runClients(
      (batch) => Buffer.from(JSON.stringify({ journey: "ingest", events: batch })),
      (body) =>
        new Promise<void>((resolve, reject) => {
          const req = request(
            eventsUrl,
            {
              method: "POST",
              agent,
              headers: {
                authorization: `Bearer ${key}`,
                "content-type": "application/json",
                "content-length": body.length,
              },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on("data", (chunk: Buffer) => chunks.push(chunk));
              res.on("end", () =>
                res.statusCode === 200
                  ? resolve()
                  : reject(
                      new Error(`POST /api/events: ${res.statusCode} ${Buffer.concat(chunks).toString()}`),
                    ),
              );
              res.on("error", reject);
            },
          );
          req.on("error", reject);
          req.end(body);
        }),
    );
    agent.destroy();
    await createBareEventsTable(raw);
    const bare = await runClients(
      (batch) => batch,
      (batch) => insertBareEvents(raw, { orgId, journeyId: "ingest", batch }),
    );

    // 2. Two journeys with the same last 30 days; the large one with older history as well.
    // Setup, not measured: one loader, so batches of a time-ordered history do not queue on the
    // same summary rows; the history is made chunk by chunk rather than held whole.
    const load = async (
      slug: string,
      total: number,
      chunk: (from: number, count: number) => BenchEvent[],
    ) => {
      const ctx = {
        db: database.db,
        orgId,
        key: { id: "bench", kind: "secret" as const, scopes: ["events:write" as const] },
      };
      for (let done = 0; done < total; done += 500) {
        checkDeadline();
        const batch = chunk(done, Math.min(500, total - done));
        const newest = Math.max(...batch.map((e) => Date.parse(e.timestamp)));
        await ingestEvents({
          ctx: { ...ctx, receivedAt: new Date(Math.min(newest + 1000, now)) },
          input: { journey: slug, events: batch },
        });
        if ((done + 500) % 100_000 === 0) process.stderr.write(`${slug}: ${done + 500}/${total} events\n`);
      }
    };
    // The same recent traffic for both journeys: 10 thousand events over the last 29 days.
    const recent = events(SMALL_EVENTS, now - 29 * DAY, now - MIN, "recent");
    const recentChunk = (from: number, count: number) => recent.slice(from, from + count);
    await load("small", SMALL_EVENTS, recentChunk);
    // The large one: older history over two years before the cohort, in time order, then the same
    // recent traffic.
    const older = LARGE_EVENTS - SMALL_EVENTS;
    const span = 699 * DAY;
    await load("large", older, (from, count) =>
      events(
        count,
        now - 730 * DAY + (from / older) * span,
        now - 730 * DAY + ((from + count) / older) * span,
        `old-${from}`,
      ),
    );
    await load("large", SMALL_EVENTS, recentChunk);
    await raw`vacuum analyze`;

    // Each measured Retrieve follows a stored event (one new event sent first, not timed), so it
    // computes the analytics afresh rather than reusing the last answer (analytics/cache.ts).
    const latency = async (slug: string) => {
      const times: number[] = [];
      for (let i = 0; i < RETRIEVES + 20; i++) {
        checkDeadline();
        const change = await fetch(`${base}/api/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({
            journey: slug,
            events: events(1, now - MIN, now - MIN + 1, `change-${slug}-${i}`),
          }),
        });
        if (change.status !== 200) throw new Error(`POST /api/events for ${slug}: ${change.status}`);
        await change.arrayBuffer();
        const started = performance.now();
        const res = await fetch(`${base}/api/journeys/${slug}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`GET ${slug}: ${res.status}`);
        if (i >= 20) times.push(performance.now() - started);
      }
      return p50p99(times);
    };
    const small = await latency("small");
    const large = await latency("large");
    const [counts] =
      await raw`select (select count(*) from events e join journeys j on j.id = e.journey_id where j.slug = 'small')::int as small,
      (select count(*) from events e join journeys j on j.id = e.journey_id where j.slug = 'large')::int as large`;

    const f = (n: number) => n.toFixed(1);
    const rows = [
      [
        `POST /api/events (batches of ${BATCH}, ${CLIENTS} clients, ${HTTP_EVENTS} events)`,
        `${Math.round(http.rate)} events/s`,
      ],
      [`raw postgres.js UNNEST insert, same rows and batches, bare table`, `${Math.round(bare.rate)} rows/s`],
      ["ingest ÷ raw (target ≥ 40%)", `${((http.rate / bare.rate) * 100).toFixed(0)}%`],
      [`CPU per batch of ${BATCH}, ingestion`, describeCpu(http.cpu, "HTTP clients")],
      [`CPU per batch of ${BATCH}, raw insert`, describeCpu(bare.cpu, "postgres.js client")],
      [`Retrieve, ${counts.small} events: p50 / p99`, `${f(small.p50)} / ${f(small.p99)} ms`],
      [`Retrieve, ${counts.large} events: p50 / p99`, `${f(large.p50)} / ${f(large.p99)} ms`],
      ["1M ÷ 10k, p50 (target ≤ 1.5×)", `${(large.p50 / small.p50).toFixed(2)}×`],
    ];
    console.log("| measure | result |\n|---|---|");
    for (const [measure, result] of rows) console.log(`| ${measure} | ${result} |`);
  } finally {
    if (server) await stop(server.child);
    stopAll();
    rmSync(logDir, { recursive: true, force: true });
    await raw.end({ timeout: 5 });
    await database.close();
    if (setting("BENCH_KEEP_DATABASE") === "1") process.stderr.write(`Kept the database ${name}\n`);
    else await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

await main();
