import { createDatabase } from "@odyssey/db";
import { testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { loadConfig } from "../src/env";
import { createLogger } from "../src/logger";
import {
  DAY,
  HOUR,
  MIN,
  type RawEvent,
  referenceAnalytics,
  type SentBatch,
} from "./support/analytics-reference";
import { createJourney, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// Retrieve reuses analytics it computed while their inputs are unchanged. These tests change
// each input in turn (new events, a snapshot, time crossing each window's edge, events stored by
// another process) and require the next Retrieve to show it.

let server: TestServer;
let key: string;
let journeys = 0;

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("analytics-cache");
});
afterAll(() => server.close());

const retrieve = async (slug: string) => {
  const res = await server.call(key, "GET", `/api/journeys/${slug}`);
  expect(res.status).toBe(200);
  return res.json();
};

async function send(slug: string, receivedAt: Date, events: RawEvent[]) {
  server.setNow(receivedAt);
  const res = await fetch(`${server.url}/api/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ journey: slug, events }),
  });
  expect(res.status).toBe(200);
  return { receivedAt, headerDevice: null, events } satisfies SentBatch;
}

const event = (at: number, type: string, sessionId: string, more: Partial<RawEvent> = {}): RawEvent => ({
  id: uuid(),
  type,
  sessionId,
  timestamp: new Date(at).toISOString(),
  ...more,
});

describe("Retrieve after a change", () => {
  it("shows events stored since the previous call", async () => {
    const slug = `cache-${++journeys}`;
    await createJourney(server, key, slug, { steps: 2 });
    const now = Date.now();
    await send(slug, new Date(now), [event(now - MIN, "session_start", "a", { device: "mobile" })]);
    server.setNow(new Date(now));
    expect((await retrieve(slug)).healthMetrics.sessionCount).toBe(1);
    expect((await retrieve(slug)).healthMetrics.sessionCount).toBe(1);

    await send(slug, new Date(now), [
      event(now - MIN, "session_start", "b", { device: "desktop" }),
      event(now - MIN + 1000, "submit_success", "b"),
    ]);
    server.setNow(new Date(now));
    const after = await retrieve(slug);
    expect(after.healthMetrics.sessionCount).toBe(2);
    expect(after.behaviorMetrics).toMatchObject({
      completionRate: 0.5,
      mobileRate: 0.5,
      medianTimeToComplete: 1,
    });
    expect(after.eventCountsLast24h).toMatchObject({ session_start: 2, submit_success: 1 });
  });

  it("shows a snapshot taken since the previous call", async () => {
    const slug = `cache-${++journeys}`;
    await createJourney(server, key, slug, { steps: 1 });
    server.setNow(undefined);
    expect(await retrieve(slug)).toMatchObject({
      lastArtifactCreated: null,
      healthMetrics: { hasSnapshot: false },
    });
    const res = await server.call(key, "POST", `/api/journeys/${slug}/snapshots`);
    expect(res.status).toBe(201);
    const snapshot = await res.json();
    expect(await retrieve(slug)).toMatchObject({
      lastArtifactCreated: { id: snapshot.id, createdAt: snapshot.createdAt },
      healthMetrics: { hasSnapshot: true },
    });
  });

  it("follows time across every window's edge without new events", async () => {
    const slug = `cache-${++journeys}`;
    const journey = await createJourney(server, key, slug, { steps: 3 });
    // Whole seconds plus a remainder, so that no edge falls on an hour boundary.
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 40 * DAY + 123;
    const batches = [
      await send(slug, new Date(t0 + 3 * HOUR), [
        event(t0, "session_start", "done", { device: "mobile" }),
        event(t0 + 1000, "step_view", "done", { stepKey: "s0" }),
        event(t0 + 5000, "submit_success", "done"),
        event(t0 + 2 * HOUR, "session_start", "left", { device: "desktop" }),
        event(t0 + 2 * HOUR + 1000, "step_view", "left", { stepKey: "s1" }),
        event(t0 + 2 * HOUR + 2000, "step_view", "left", { stepKey: "unknown-step" }),
      ]),
    ];
    const times = batches.flatMap((b) => b.events.map((e) => Date.parse(e.timestamp)));
    // Just before and just after each instant at which some window passes a stored time.
    const edges = times.flatMap((t) =>
      [30 * DAY, 7 * DAY, DAY, 30 * MIN].flatMap((span) => [t + span, t + span + 1]),
    );
    // And the hour boundaries, where the 24 hours' counts move from events to hour counts.
    const hours = times.flatMap((t) => [24, 25].map((h) => Math.floor(t / HOUR) * HOUR + h * HOUR));
    const instants = [...new Set([...edges, ...hours, ...hours.map((h) => h - 1)])]
      .filter((at) => at > Math.max(...times))
      .sort((a, b) => a - b);
    let changes = 0;
    let previous: unknown;
    for (const at of instants) {
      const now = new Date(at);
      server.setNow(now);
      const body = await retrieve(slug);
      const expected = referenceAnalytics({ steps: journey.steps, batches, now });
      expect(Object.fromEntries(Object.keys(expected).map((k) => [k, body[k]]))).toEqual(expected);
      if (previous !== undefined && JSON.stringify(previous) !== JSON.stringify(expected)) changes++;
      previous = expected;
    }
    // The walk crosses edges that change the figures, or it would prove nothing.
    expect(changes).toBeGreaterThanOrEqual(6);
  });

  it("reads only the 24 hours' counts again when one of their events turns 24 hours old", async () => {
    const slug = `cache-${++journeys}`;
    await createJourney(server, key, slug, { steps: 1 });
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 3 * DAY + 123;
    await send(slug, new Date(t0 + HOUR), [
      event(t0, "session_start", "a", { device: "mobile" }),
      event(t0 + 10 * MIN, "step_view", "a", { stepKey: "s0" }),
    ]);
    server.setNow(new Date(t0 + 2 * HOUR));
    const first = await retrieve(slug);
    expect(first.behaviorMetrics.mobileRate).toBe(1);
    expect(first.eventCountsLast24h).toMatchObject({ session_start: 1, step_view: 1 });

    // A session changed behind the service's back (no analytics version moved): an answer that
    // reads the cohort again shows it, one that reuses the cohort does not.
    await server.database.db.execute(sql`update event_sessions set device = 'desktop'
      where journey_id = (select id from journeys where slug = ${slug})`);

    // The session_start turns 24 hours old: the counts change, no cohort window moves.
    server.setNow(new Date(t0 + DAY + 1));
    const later = await retrieve(slug);
    expect(later.eventCountsLast24h).toMatchObject({ session_start: 0, step_view: 1 });
    expect(later.healthMetrics.hasRecentEvents).toBe(true);
    expect(later.behaviorMetrics.mobileRate).toBe(1);

    // The cohort is read again when the version moves: the change made directly shows.
    await send(slug, new Date(t0 + DAY + 2), [event(t0 + DAY + 2, "step_view", "a", { stepKey: "s0" })]);
    server.setNow(new Date(t0 + DAY + 2));
    expect((await retrieve(slug)).behaviorMetrics.mobileRate).toBe(0);
  });

  it.skipIf(testEngine() === "pglite")("shows events that another process stored", async () => {
    const slug = `cache-${++journeys}`;
    await createJourney(server, key, slug, { steps: 1 });
    // A second server on the same database: its own connections and its own cache.
    const other = createDatabase({ url: server.database.url as string });
    const config = loadConfig({ RATE_LIMIT_CONTROL_PER_SECOND: "0", RATE_LIMIT_INGEST_PER_SECOND: "0" });
    const app = createApp({
      database: other,
      config,
      logger: createLogger("silent"),
      clock: () => new Date(),
    });
    const otherRetrieve = async () => {
      const res = await app.request(`/api/journeys/${slug}`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { healthMetrics: { sessionCount: number } }).healthMetrics.sessionCount;
    };
    try {
      server.setNow(undefined);
      expect(await otherRetrieve()).toBe(0);
      expect((await retrieve(slug)).healthMetrics.sessionCount).toBe(0);
      const now = Date.now();
      await send(slug, new Date(now), [event(now, "session_start", "x")]);
      server.setNow(undefined);
      expect(await otherRetrieve()).toBe(1);
      const res = await app.request("/api/events", {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ journey: slug, events: [event(Date.now(), "session_start", "y")] }),
      });
      expect(res.status).toBe(200);
      expect((await retrieve(slug)).healthMetrics.sessionCount).toBe(2);
    } finally {
      await other.close();
    }
  });
});
