import { randomUUID } from "node:crypto";
import type { ServerType } from "@hono/node-server";
import { createApiKey } from "@odyssey/api";
import { createDatabase, type DatabaseHandle, queryRows } from "@odyssey/db";
import { createTestDatabase, type TestDatabase, testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { loadConfig } from "../src/env";
import { listen } from "../src/http";
import { createLogger } from "../src/logger";
import { type FaultProxy, startFaultProxy } from "./support/fault-proxy";
import { StatusTally, writeFigures } from "./support/figures";

// A database outage under a mixed load: the app reaches Postgres through a proxy the test breaks
// (first every connection dropped, then every byte stalled), never the shared server itself.
// PGlite runs inside the process and has no connection to lose: this file runs on Postgres.

const REQUEST_TIMEOUT_MS = 1500;
const OUTAGE_MS = 5000;
const RECOVERY_PROMISE_MS = 2000;
const WORKERS = 4;
/** How long the load runs on after each return of the database. */
const AFTER_MS = 4500;

interface Sample {
  op: string;
  startedAt: number;
  endedAt: number;
  status: number | "no answer";
  retryAfter: string | null;
  body: unknown;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(testEngine() !== "postgres")("a database outage under load", () => {
  let testDb: TestDatabase;
  let proxy: FaultProxy;
  let appDb: DatabaseHandle;
  let server: ServerType;
  let url: string;
  let key: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    proxy = await startFaultProxy({
      host: "127.0.0.1",
      port: Number(new URL(testDb.url ?? "").port || 5432),
    });
    appDb = createDatabase({ url: proxy.proxied(testDb.url ?? ""), maxConnections: 10 });
    const config = loadConfig({
      LOG_LEVEL: "silent",
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      RATE_LIMIT_CONTROL_PER_SECOND: "0",
    });
    const app = createApp({ database: appDb, config, logger: createLogger("silent") });
    const listening = await listen(app.fetch, config, { port: 0, host: "127.0.0.1" });
    server = listening.server;
    url = `http://127.0.0.1:${listening.port}`;
    key = (await createApiKey(testDb.db, { orgSlug: "outage", kind: "secret" })).key;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await appDb?.close();
    await proxy?.close();
    await testDb?.close();
  });

  it("answers 503 with Retry-After while the database is away, never hangs, recovers within 2 s, loses nothing", async () => {
    const samples: Sample[] = [];
    const probes: { at: number; status: number | "no answer" }[] = [];
    const created = new Set<string>();
    let stopped = false;

    const send = async (op: string, method: string, path: string, body?: unknown) => {
      const startedAt = performance.now();
      let sample: Sample;
      try {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            ...(body ? { "content-type": "application/json" } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + 1000),
        });
        sample = {
          op,
          startedAt,
          endedAt: performance.now(),
          status: res.status,
          retryAfter: res.headers.get("retry-after"),
          body: await res.json(),
        };
      } catch {
        sample = {
          op,
          startedAt,
          endedAt: performance.now(),
          status: "no answer",
          retryAfter: null,
          body: null,
        };
      }
      samples.push(sample);
      return sample;
    };

    const worker = async (id: number) => {
      for (let n = 0; !stopped && n < 10_000; n++) {
        const slug = `w${id}-${n}`;
        const made = await send("create", "POST", "/api/journeys/create", {
          slug,
          displayName: `Journey ${slug}`,
          steps: [
            { stepKey: "start", index: 0 },
            { stepKey: "finish", index: 1 },
          ],
        });
        if (made.status === 201) created.add(slug);
        const known = [...created];
        const pick = known[n % Math.max(1, known.length)];
        if (pick) {
          await send("retrieve", "GET", `/api/journeys/${pick}`);
          await send("update", "PUT", `/api/journeys/${pick}`, { displayName: `Renamed ${n}` });
        }
        await send("list", "GET", "/api/journeys?limit=5");
        await send("trpc list", "GET", "/trpc/journeys.list");
      }
    };

    // Event batches: every id of a batch answered 200 must be stored; a batch answered otherwise
    // must be stored whole or not at all.
    const batches: { ids: string[]; status: number | "no answer"; accepted: number }[] = [];
    const eventSender = async () => {
      for (let n = 0; !stopped && n < 10_000; n++) {
        const sessionId = `session-${n}`;
        const events = Array.from({ length: 10 }, (_, i) => ({
          id: randomUUID(),
          type: i === 0 ? "session_start" : "step_view",
          sessionId,
          stepKey: i % 2 ? "start" : "finish",
          timestamp: new Date(Date.now() - 1000 + i).toISOString(),
        }));
        const sent = await send("events", "POST", "/api/events", { journey: "outage-events", events });
        const accepted = sent.status === 200 ? ((sent.body as { accepted: number }).accepted ?? 0) : 0;
        batches.push({ ids: events.map((e) => e.id), status: sent.status, accepted });
      }
    };

    const prober = async () => {
      while (!stopped) {
        const at = performance.now();
        try {
          const res = await fetch(`${url}/readyz`, {
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + 1000),
          });
          probes.push({ at, status: res.status });
        } catch {
          probes.push({ at, status: "no answer" });
        }
        await sleep(200);
      }
    };

    // Warm the pool and the code paths, so the first probes measure the database, not a cold start.
    expect((await send("warm-up", "GET", "/api/journeys?limit=1")).status).toBe(200);
    const eventsJourney = await send("warm-up", "POST", "/api/journeys/create", {
      slug: "outage-events",
      displayName: "Events under outage",
      steps: [
        { stepKey: "start", index: 0 },
        { stepKey: "finish", index: 1 },
      ],
    });
    expect(eventsJourney.status).toBe(201);
    samples.length = 0;
    const load = [...Array.from({ length: WORKERS }, (_, i) => worker(i)), eventSender(), prober()];
    const outages: { kind: string; from: number; to: number }[] = [];
    await sleep(1000);
    for (const kind of ["reset", "stall"] as const) {
      const from = performance.now();
      if (kind === "reset") proxy.reset();
      else proxy.stall();
      await sleep(OUTAGE_MS);
      proxy.restore();
      outages.push({ kind, from, to: performance.now() });
      await sleep(AFTER_MS);
    }
    stopped = true;
    await Promise.all(load);

    // Every request got an answer, within the deadline, and no answer was an error other than 503.
    expect(samples.filter((s) => s.status === "no answer")).toEqual([]);
    const unexpected = samples.filter((s) => ![200, 201, 503].includes(s.status as number));
    expect(batches.filter((b) => b.status === 200).length).toBeGreaterThan(0);
    expect(unexpected.map((s) => ({ op: s.op, status: s.status, body: s.body }))).toEqual([]);
    for (const s of samples.filter((s) => s.status === 503)) {
      expect(s.retryAfter).toMatch(/^\d+$/);
      // REST answers {"error": message}; tRPC its own error envelope under the same key (or, when
      // the deadline answered before tRPC did, the REST form).
      if (s.op.startsWith("trpc")) expect(Object.keys(s.body as object)).toEqual(["error"]);
      else expect(s.body).toEqual({ error: expect.any(String) });
    }

    const within = (s: { startedAt: number; endedAt: number }, from: number, to: number) =>
      s.startedAt >= from && s.endedAt <= to;
    for (const outage of outages) {
      // Requests sent and answered while the database was away were refused with 503...
      const during = samples.filter((s) => within(s, outage.from + 100, outage.to));
      expect(during.length).toBeGreaterThan(0);
      expect(during.every((s) => s.status === 503)).toBe(true);
      // ...readiness said so...
      const probesDuring = probes.filter(
        (p) => p.at >= outage.from + 100 && p.at + REQUEST_TIMEOUT_MS <= outage.to,
      );
      expect(probesDuring.length).toBeGreaterThan(0);
      expect(probesDuring.every((p) => p.status === 503)).toBe(true);
      // ...and every request sent from 2 s after its return succeeded.
      // (The next fault starts AFTER_MS after the return, hence the window's end.)
      const after = samples.filter((s) => within(s, outage.to + RECOVERY_PROMISE_MS, outage.to + AFTER_MS));
      expect(after.length).toBeGreaterThan(0);
      expect(after.filter((s) => s.status === 503).map((s) => s.op)).toEqual([]);
    }
    expect(probes.filter((p) => p.at < (outages[0]?.from ?? 0)).map((p) => p.status)).toContain(200);

    // Nothing answered 201 is lost, and no journey is half-written (each has both its steps).
    const rows = await queryRows<{ slug: string; steps: number }>(
      testDb.db,
      sql`select j.slug, count(s.id)::int as steps from journeys j
          left join journey_steps s on s.org_id = j.org_id and s.journey_id = j.id group by j.slug`,
    );
    const stored = new Map(rows.map((r) => [r.slug, r.steps]));
    for (const slug of created) expect(stored.get(slug)).toBe(2);
    expect(rows.filter((r) => r.steps !== 2)).toEqual([]);

    // Every event acknowledged is stored; every other batch is all or nothing; the summaries
    // Retrieve reads count exactly the stored events (written in the same transaction).
    const storedIds = new Set(
      (await queryRows<{ id: string }>(testDb.db, sql`select id from events`)).map((r) => r.id),
    );
    const acknowledged = batches.filter((b) => b.status === 200);
    for (const batch of acknowledged) expect(batch.ids.filter((id) => !storedIds.has(id))).toEqual([]);
    for (const batch of batches.filter((b) => b.status !== 200)) {
      const stored = batch.ids.filter((id) => storedIds.has(id)).length;
      expect([0, batch.ids.length]).toContain(stored);
    }
    const [counted] = await queryRows<{ n: number }>(
      testDb.db,
      sql`select coalesce(sum(count), 0)::int as n from event_hours`,
    );
    expect(counted?.n).toBe(storedIds.size);

    const tally = new StatusTally();
    for (const s of samples) tally.add(s.status);
    writeFigures("outage", {
      requestsSent: samples.length,
      readinessProbes: probes.length,
      faultsInjected: outages.map((o) => ({ kind: o.kind, ms: Math.round(o.to - o.from) })),
      connectionsDropped: proxy.droppedConnections,
      answersByStatus: tally.counts,
      journeysAcknowledged: created.size,
      journeysStored: rows.length,
      eventBatchesSent: batches.length,
      eventBatchesAcknowledged: acknowledged.length,
      eventsAcknowledged: acknowledged.reduce((n, b) => n + b.accepted, 0),
      eventsStored: storedIds.size,
      eventsCountedInSummaries: counted?.n,
      slowestAnswerMs: Math.round(Math.max(...samples.map((s) => s.endedAt - s.startedAt))),
    });
  });
});
