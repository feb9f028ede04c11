// pnpm bench:statement — what one batch of ingestion costs Postgres, without HTTP or the server.
//
// The statement `storeEvents` runs (de-duplicated insert plus every summary, events/store.ts) and
// a raw UNNEST insert of the same rows into a bare table, each on one connection, in alternating
// rounds. For each: wall time, the Postgres backend's CPU (read from /proc, so only when the
// server runs on this machine) and WAL written, per batch of 100 events. Then the same statement
// with batches of 400, its WAL by relation (pg_walinspect), and one plan of it with actual times
// per part (auto_explain).
//
// Settings (environment): ODYSSEY_BENCH_DATABASE_URL (the server the bench database is created
// on), BENCH_PRELOAD (events stored before measuring, default 100000), BENCH_BATCHES (batches per
// round, default 300), BENCH_ROUNDS (default 3), BENCH_SETUP_SQL (run once after the migrations,
// to measure a variant of the schema: `drop index events_journey_time`, say).

import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { EventColumns, storeEvents } from "../packages/api/src/events/store.ts";
import { createApiKey, createCaller } from "../packages/api/src/index.ts";
import { createDatabase, type Database, queryRows } from "../packages/db/src/index.ts";
import * as schema from "../packages/db/src/schema.ts";
import { createBareEventsTable, insertBareEvents } from "./lib/bare-insert.ts";
import { cpuMicrosOf } from "./lib/cpu.ts";
import { createBenchDatabase } from "./lib/database.ts";
import { type BenchEvent, DEFAULT_STEPS, events, inBatches } from "./lib/events.ts";
import { positiveIntSetting } from "./lib/settings.ts";

const PRELOAD = positiveIntSetting("BENCH_PRELOAD", 100_000);
const BATCHES = positiveIntSetting("BENCH_BATCHES", 300);
const ROUNDS = positiveIntSetting("BENCH_ROUNDS", 3);
const DAY = 86_400_000;

/** CPU milliseconds a process has used, or null when it is not on this machine. */
function cpuMs(pid: number): number | null {
  try {
    const micros = cpuMicrosOf(pid);
    return Number.isFinite(micros) ? micros / 1000 : null;
  } catch {
    return null;
  }
}

const lsnBytes = (lsn: string) => {
  const [high = "0", low = "0"] = lsn.split("/");
  return Number.parseInt(high, 16) * 2 ** 32 + Number.parseInt(low, 16);
};

function first<T>(rows: readonly T[]): T {
  const row = rows[0];
  if (row === undefined) throw new Error("The query answered no row");
  return row;
}

/** auto_explain's message without the statement's text, which the plan's lines follow. */
function withoutQueryText(message: string): string {
  const lines = message.split("\n");
  const start = lines.findIndex((line) => line.startsWith("Query Text:"));
  if (start < 0) return message;
  let end = start + 1;
  while (end < lines.length && /^\s/.test(lines[end] ?? "")) end++;
  return [...lines.slice(0, start), ...lines.slice(end)].join("\n");
}

/**
 * The WAL the statement writes, per relation (table or index) and per 100 events, read with
 * pg_walinspect (PostgreSQL 15 and later, created in the bench database; a superuser's). Records
 * that touch no relation (commits, mostly) are counted apart.
 */
async function walByRelation(
  raw: postgres.Sql,
  batches: BenchEvent[][],
  send: (batch: BenchEvent[]) => Promise<unknown>,
): Promise<void> {
  try {
    await raw`create extension if not exists pg_walinspect`;
    const lsn = async () => first(await raw<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`).lsn;
    const from = await lsn();
    let events = 0;
    for (const batch of batches) {
      await send(batch);
      events += batch.length;
    }
    const to = await lsn();
    const rows = await raw<{ relation: string; records: number; bytes: number; fpi: number }[]>`
      select coalesce(c.relname, '(no relation: commits, …)') as relation, count(*)::int as records,
        sum(r.record_length)::int as bytes, sum(r.fpi_length)::int as fpi
      from pg_get_wal_records_info(${from}::pg_lsn, ${to}::pg_lsn) r
      left join pg_class c on c.relfilenode = (regexp_match(r.block_ref, 'rel [0-9]+/[0-9]+/([0-9]+)'))[1]::oid
      group by 1 order by 3 desc`;
    const per100 = (value: number) => (value * 100) / events;
    console.log("\nWAL of the statement by relation, per 100 events (pg_walinspect):\n");
    console.log("| relation | records | KiB | of which full-page images, KiB |\n|---|---:|---:|---:|");
    for (const row of rows)
      console.log(
        `| ${row.relation} | ${per100(row.records).toFixed(0)} | ${(per100(row.bytes) / 1024).toFixed(1)} | ${(per100(row.fpi) / 1024).toFixed(1)} |`,
      );
  } catch (error) {
    console.log(`\nNo WAL by relation: pg_walinspect is not available (${(error as Error).message})`);
  }
}

async function main() {
  const bench = await createBenchDatabase();
  const database = createDatabase({ url: bench.url, maxConnections: 1 });
  const raw = postgres(bench.url, { max: 1, onnotice: () => {} });
  // Its own connection, whose notices carry the plans auto_explain writes.
  const plans: string[] = [];
  const explaining = postgres(bench.url, {
    max: 1,
    onnotice: (notice) => {
      plans.push(String(notice.message));
    },
  });
  try {
    await database.migrate();
    const variant = process.env.BENCH_SETUP_SQL;
    if (variant) {
      process.stderr.write(`Schema variant: ${variant}\n`);
      await raw.unsafe(variant);
    }
    const { key, orgId } = await createApiKey(database.db, { orgSlug: "bench", kind: "secret" });
    const caller = createCaller({ db: database.db, authorization: `Bearer ${key}` });
    const journey = await caller.journeys.create({
      slug: "statement",
      displayName: "Statement",
      steps: DEFAULT_STEPS.map((stepKey, index) => ({ stepKey, index })),
    });
    const stepIndex = new Map(DEFAULT_STEPS.map((stepKey, index) => [stepKey, index]));
    const now = Date.now();
    const columns = (batch: BenchEvent[]) => {
      const out = new EventColumns();
      for (const e of batch) {
        const at = Date.parse(e.timestamp);
        out.push(
          e.id,
          e.type,
          e.sessionId,
          at,
          at,
          e.stepKey ?? null,
          e.stepKey ? (stepIndex.get(e.stepKey) ?? null) : null,
          e.field ?? null,
          e.device ?? null,
        );
      }
      return out;
    };
    const store = (db: Database, batch: BenchEvent[]) =>
      storeEvents(db, {
        orgId,
        journeyId: journey.id,
        journeySlug: journey.slug,
        receivedAt: new Date(),
        events: columns(batch),
      });
    const fresh = (count: number, size: number, prefix: string) =>
      inBatches(events(count, now - 20 * DAY, now - 60_000, prefix), size);

    process.stderr.write(`Storing ${PRELOAD} events first…\n`);
    for (const batch of fresh(PRELOAD, 500, "preload")) await store(database.db, batch);
    await createBareEventsTable(raw);
    await raw`vacuum analyze`;

    const insertRaw = (batch: BenchEvent[]) => insertBareEvents(raw, { orgId, journeyId: journey.id, batch });
    const storePid = first(
      await queryRows<{ pid: number }>(database.db, sql`select pg_backend_pid() as pid`),
    ).pid;
    const rawPid = first(await raw<{ pid: number }[]>`select pg_backend_pid() as pid`).pid;
    const walNow = async () =>
      lsnBytes(first(await raw<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`).lsn);

    const rows: string[][] = [];
    const measure = async (
      label: string,
      pid: number,
      batches: BenchEvent[][],
      send: (b: BenchEvent[]) => Promise<unknown>,
    ) => {
      const per100 = batches[0] ? 100 / batches[0].length : 1;
      const walFrom = await walNow();
      const cpuFrom = cpuMs(pid);
      const started = performance.now();
      for (const batch of batches) await send(batch);
      const wall = performance.now() - started;
      const cpuTo = cpuMs(pid);
      const walTo = await walNow();
      const n = batches.length / per100;
      rows.push([
        label,
        (wall / n).toFixed(2),
        cpuFrom === null || cpuTo === null ? "n/a" : ((cpuTo - cpuFrom) / n).toFixed(2),
        ((walTo - walFrom) / n / 1024).toFixed(1),
      ]);
      process.stderr.write(`${label}: done\n`);
    };
    for (let round = 1; round <= ROUNDS; round++) {
      await measure(
        `raw insert, round ${round}`,
        rawPid,
        fresh(BATCHES * 100, 100, `raw${round}`),
        insertRaw,
      );
      await measure(
        `storeEvents, round ${round}`,
        storePid,
        fresh(BATCHES * 100, 100, `store${round}`),
        (b) => store(database.db, b),
      );
    }
    await measure("storeEvents, batches of 400", storePid, fresh(BATCHES * 100, 400, "store400"), (b) =>
      store(database.db, b),
    );

    console.log("\nPer 100 events, one connection each:\n");
    console.log("| statement | wall ms | Postgres CPU ms | WAL KiB |\n|---|---:|---:|---:|");
    for (const row of rows) console.log(`| ${row.join(" | ")} |`);

    await walByRelation(raw, fresh(2_000, 100, "wal"), (b) => store(database.db, b));

    // One batch through the same statement with auto_explain: actual time per part.
    const explainDb = drizzle(explaining, { schema }) as unknown as Database;
    try {
      await explaining.unsafe("load 'auto_explain'");
      await explaining.unsafe(`set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on;
        set auto_explain.log_buffers = on; set auto_explain.log_wal = on; set client_min_messages = log`);
      for (const batch of fresh(2_000, 100, "explain")) {
        plans.length = 0;
        await store(explainDb, batch);
      }
      const plan = plans.find((message) => message.includes("Insert on event_ids"));
      console.log(
        `\nPlan of one batch of 100 (auto_explain):\n\n${plan ? withoutQueryText(plan) : "(no plan received)"}`,
      );
    } catch (error) {
      console.log(`\nNo plan: auto_explain could not be loaded (${(error as Error).message})`);
    }
  } finally {
    await explaining.end({ timeout: 5 });
    await raw.end({ timeout: 5 });
    await database.close();
    await bench.drop();
  }
}

await main();
