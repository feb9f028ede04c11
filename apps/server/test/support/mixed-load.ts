import { randomUUID } from "node:crypto";
import { type Database, queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { eventsCountedInHours } from "./events";
import { StatusTally } from "./figures";

/** The budget both outage tests hold the app to: request deadline, outage length, recovery promise. */
export const REQUEST_TIMEOUT_MS = 1500;
export const OUTAGE_MS = 5000;
export const RECOVERY_PROMISE_MS = 2000;
/** How long the load runs on after the database is back. */
export const AFTER_MS = 4500;

// The mixed load of the database-outage tests (REST and tRPC journeys, event batches, readiness
// probes) and the promises checked on what it saw: the fault is the caller's to inject.

export interface Sample {
  op: string;
  startedAt: number;
  endedAt: number;
  status: number | "no answer";
  retryAfter: string | null;
  body: unknown;
}

export interface Probe {
  at: number;
  status: number | "no answer";
}

export interface EventBatch {
  ids: string[];
  status: number | "no answer";
  accepted: number;
}

/** A stretch of time the database was away, in `performance.now()` time. */
export interface Outage {
  kind: string;
  from: number;
  to: number;
  /** When it accepted connections again, if later than `to` (a restart takes a while). */
  back?: number;
}

export interface MixedLoad {
  samples: Sample[];
  probes: Probe[];
  /** Slugs of journeys answered 201. */
  created: Set<string>;
  batches: EventBatch[];
  /** Warms the pool and code paths and creates the journey events are sent to. */
  warmUp(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

const WORKERS = 4;
const MAX_ROUNDS = 10_000;
const PROBE_EVERY_MS = 200;
const EVENTS_JOURNEY = "outage-events";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const twoSteps = [
  { stepKey: "start", index: 0 },
  { stepKey: "finish", index: 1 },
];

export function createMixedLoad(options: { url: string; key: string; requestTimeoutMs: number }): MixedLoad {
  const { url, key, requestTimeoutMs } = options;
  const samples: Sample[] = [];
  const probes: Probe[] = [];
  const created = new Set<string>();
  const batches: EventBatch[] = [];
  let stopped = false;
  let running: Promise<unknown>[] = [];

  const send = async (
    op: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const startedAt = performance.now();
    let sample: Sample;
    try {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(requestTimeoutMs + 1000),
      });
      sample = {
        op,
        startedAt,
        endedAt: performance.now(),
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        body: await res.text().then((text) => (text ? JSON.parse(text) : null)),
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
    for (let n = 0; !stopped && n < MAX_ROUNDS; n++) {
      const slug = `w${id}-${n}`;
      const made = await send("create", "POST", "/api/journeys/create", {
        slug,
        displayName: `Journey ${slug}`,
        steps: twoSteps,
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
      // A browser's preflight before it sends events: answered from the journeys' allowed origins.
      await send("preflight", "OPTIONS", "/api/events", undefined, {
        origin: "https://forms.example",
        "access-control-request-method": "POST",
      });
    }
  };

  // Every id of a batch answered 200 must be stored; a batch answered otherwise must be stored
  // whole or not at all.
  const eventSender = async () => {
    for (let n = 0; !stopped && n < MAX_ROUNDS; n++) {
      const sessionId = `session-${n}`;
      const events = Array.from({ length: 10 }, (_, i) => ({
        id: randomUUID(),
        type: i === 0 ? "session_start" : "step_view",
        sessionId,
        stepKey: i % 2 ? "start" : "finish",
        timestamp: new Date(Date.now() - 1000 + i).toISOString(),
      }));
      const sent = await send("events", "POST", "/api/events", { journey: EVENTS_JOURNEY, events });
      const accepted = sent.status === 200 ? ((sent.body as { accepted: number }).accepted ?? 0) : 0;
      batches.push({ ids: events.map((e) => e.id), status: sent.status, accepted });
    }
  };

  // Requests refused for their body once their key is judged (the key comes first): a query too.
  // A page's refused batch is also judged for the origins journeys allow, so it may read why.
  const refuser = async () => {
    for (let n = 0; !stopped && n < MAX_ROUNDS; n++) {
      await send("refused", "PUT", "/api/journeys/any", { displayName: 5 });
      await send(
        "refused",
        "POST",
        "/api/events",
        { journey: EVENTS_JOURNEY, events: 5 },
        {
          origin: "https://forms.example",
        },
      );
    }
  };

  const prober = async () => {
    for (let n = 0; !stopped && n < MAX_ROUNDS; n++) {
      const at = performance.now();
      try {
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(requestTimeoutMs + 1000) });
        probes.push({ at, status: res.status });
      } catch {
        probes.push({ at, status: "no answer" });
      }
      await sleep(PROBE_EVERY_MS);
    }
  };

  return {
    samples,
    probes,
    created,
    batches,
    async warmUp() {
      expect((await send("warm-up", "GET", "/api/journeys?limit=1")).status).toBe(200);
      const eventsJourney = await send("warm-up", "POST", "/api/journeys/create", {
        slug: EVENTS_JOURNEY,
        displayName: "Events under outage",
        steps: twoSteps,
      });
      expect(eventsJourney.status).toBe(201);
      samples.length = 0;
    },
    start() {
      running = [...Array.from({ length: WORKERS }, (_, i) => worker(i)), eventSender(), refuser(), prober()];
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/**
 * Every request got an answer within the deadline and none was an error other than 503 (with
 * Retry-After and an `error` body); during each outage requests and readiness were refused, and
 * from `recoveryMs` after its return until `afterMs` after it (the next fault or the end) all
 * succeeded. The app logged no error (`loggedErrors`, from `recordingLogger("error")`).
 */
export function expectOutageAnswers(
  load: MixedLoad,
  outages: Outage[],
  timing: { requestTimeoutMs: number; recoveryMs: number; afterMs: number },
  loggedErrors: Record<string, unknown>[],
): void {
  const { samples, probes, batches } = load;
  expect(samples.filter((s) => s.status === "no answer")).toEqual([]);
  const success: Record<string, number> = { preflight: 204, refused: 400 };
  const unexpected = samples.filter((s) => ![success[s.op] ?? 200, 201, 503].includes(s.status as number));
  expect(batches.filter((b) => b.status === 200).length).toBeGreaterThan(0);
  expect({
    unexpected: unexpected.map((s) => ({ op: s.op, status: s.status, body: s.body })),
    loggedErrors,
  }).toEqual({ unexpected: [], loggedErrors: [] });
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
      (p) => p.at >= outage.from + 100 && p.at + timing.requestTimeoutMs <= outage.to,
    );
    expect(probesDuring.length).toBeGreaterThan(0);
    expect(probesDuring.every((p) => p.status === 503)).toBe(true);
    // ...and every request sent from the recovery promise on succeeded.
    const back = outage.back ?? outage.to;
    const after = samples.filter((s) => within(s, back + timing.recoveryMs, back + timing.afterMs));
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((s) => s.status === 503).map((s) => s.op)).toEqual([]);
  }
  expect(probes.filter((p) => p.at < (outages[0]?.from ?? 0)).map((p) => p.status)).toContain(200);
}

/**
 * Nothing answered 201 is lost and no journey is half-written; every event acknowledged is
 * stored, every other batch is all or nothing, and the summaries Retrieve reads count exactly the
 * stored events (written in the same transaction). Answers the stored counts for the figures.
 */
export async function expectNothingLost(db: Database, load: MixedLoad) {
  const rows = await queryRows<{ slug: string; steps: number }>(
    db,
    sql`select j.slug, count(s.id)::int as steps from journeys j
        left join journey_steps s on s.org_id = j.org_id and s.journey_id = j.id group by j.slug`,
  );
  const stored = new Map(rows.map((r) => [r.slug, r.steps]));
  for (const slug of load.created) expect(stored.get(slug)).toBe(2);
  expect(rows.filter((r) => r.steps !== 2)).toEqual([]);

  const storedIds = new Set(
    (await queryRows<{ id: string }>(db, sql`select id from events`)).map((r) => r.id),
  );
  for (const batch of load.batches.filter((b) => b.status === 200))
    expect(batch.ids.filter((id) => !storedIds.has(id))).toEqual([]);
  for (const batch of load.batches.filter((b) => b.status !== 200)) {
    const storedOfBatch = batch.ids.filter((id) => storedIds.has(id)).length;
    expect([0, batch.ids.length]).toContain(storedOfBatch);
  }
  const [counted] = await queryRows<{ n: number }>(db, sql`select ${eventsCountedInHours} as n`);
  expect(counted?.n).toBe(storedIds.size);
  return { journeysStored: rows.length, eventsStored: storedIds.size, eventsCountedInSummaries: counted?.n };
}

/** The figures every outage test reports, from its load and what was found stored. */
export function loadFigures(
  load: MixedLoad,
  outages: Outage[],
  stored: Awaited<ReturnType<typeof expectNothingLost>>,
): Record<string, unknown> {
  const tally = new StatusTally();
  for (const s of load.samples) tally.add(s.status);
  const acknowledged = load.batches.filter((b) => b.status === 200);
  return {
    requestsSent: load.samples.length,
    readinessProbes: load.probes.length,
    faultsInjected: outages.map((o) => ({ kind: o.kind, ms: Math.round(o.to - o.from) })),
    answersByStatus: tally.counts,
    journeysAcknowledged: load.created.size,
    journeysStored: stored.journeysStored,
    eventBatchesSent: load.batches.length,
    eventBatchesAcknowledged: acknowledged.length,
    eventsAcknowledged: acknowledged.reduce((n, b) => n + b.accepted, 0),
    eventsStored: stored.eventsStored,
    eventsCountedInSummaries: stored.eventsCountedInSummaries,
    slowestAnswerMs: Math.round(Math.max(...load.samples.map((s) => s.endedAt - s.startedAt))),
  };
}
