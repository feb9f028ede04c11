import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DAY,
  HOUR,
  keptEvents,
  MIN,
  type RawEvent,
  referenceAnalytics,
  type SentBatch,
  TYPES,
} from "./support/analytics-reference";
import { createJourney, postEvents } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// Generated event histories, ingested over HTTP in random batches, must give Retrieve exactly
// the figures the reference computes from the raw events.

/** Header sets a browser may send, and the device each one means. */
const HEADER_SETS: { headers: Record<string, string>; device: string | null }[] = [
  { headers: {}, device: null },
  { headers: { "user-agent": "curl/8.5.0" }, device: null },
  {
    headers: {
      "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1",
    },
    device: "mobile",
  },
  {
    headers: { "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36" },
    device: "desktop",
  },
  {
    headers: { "user-agent": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) Safari/604.1" },
    device: "tablet",
  },
  {
    headers: { "sec-ch-ua-mobile": "?1", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0" },
    device: "mobile",
  },
];

const STEPS = 4;

/** Offsets from a stored time at which some window passes it: the instant itself and 1 ms after. */
const EDGES = [30 * DAY, 7 * DAY, 30 * MIN, 24 * HOUR].flatMap((span) => [span, span + 1]);

const sessionArb = fc.record({
  // Recent sessions, sessions spread over 40 days, and sessions around each window's edge
  // (30-day cohort, 7-day steps, 24 hours of counts), so every window has events on both sides.
  startAgoMs: fc.oneof(
    fc.integer({ min: 0, max: 3 * HOUR }),
    fc.integer({ min: 0, max: 40 * DAY }),
    ...[30 * DAY, 7 * DAY, 24 * HOUR].map((edge) => fc.integer({ min: edge - 3 * HOUR, max: edge + HOUR })),
  ),
  events: fc.array(
    fc.record({
      type: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...TYPES) },
        { weight: 3, arbitrary: fc.constant("step_view" as const) },
      ),
      // Known step indexes, an unknown key, or none.
      step: fc.oneof(
        fc.integer({ min: 0, max: STEPS - 1 }),
        fc.constantFrom("typo-step", "legacy"),
        fc.constant(null),
      ),
      afterMs: fc.integer({ min: 0, max: 2 * HOUR }),
      device: fc.option(fc.constantFrom("mobile", "tablet", "desktop"), { freq: 3 }),
    }),
    { minLength: 1, maxLength: 7 },
  ),
});

const historyArb = fc.record({
  sessions: fc.array(sessionArb, { minLength: 1, maxLength: 10 }),
  arrivalKeys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 80, maxLength: 80 }),
  resend: fc.array(fc.nat(), { maxLength: 8 }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  // Later instants at which Retrieve is asked again, with no new events: picked among the
  // edges where a window passes a stored time, so an answer reused past one is caught.
  later: fc.array(fc.record({ event: fc.nat(), edge: fc.nat() }), { maxLength: 3 }),
  batches: fc.array(
    fc.record({
      lagMs: fc.oneof(fc.integer({ min: 0, max: 10 * MIN }), fc.integer({ min: 0, max: 3 * DAY })),
      skewMs: fc.option(fc.integer({ min: -2 * HOUR, max: 2 * HOUR })),
      clientClockOffMs: fc.integer({ min: -HOUR, max: HOUR }),
      headerSet: fc.nat({ max: HEADER_SETS.length - 1 }),
    }),
    { minLength: 7, maxLength: 7 },
  ),
});

// Batches of one browser sent at once: whichever copy of a repeated id is stored means the same
// event, so the figures must not depend on the order the batches commit in.
const concurrentArb = fc.record({
  sessions: fc.array(sessionArb, { minLength: 1, maxLength: 10 }),
  arrivalKeys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 80, maxLength: 80 }),
  resend: fc.array(fc.nat(), { maxLength: 12 }),
  cuts: fc.array(fc.nat(), { minLength: 2, maxLength: 8 }),
  clientClockOffMs: fc.integer({ min: -HOUR, max: HOUR }),
  headerSet: fc.nat({ max: HEADER_SETS.length - 1 }),
});

let server: TestServer;
let key: string;
let runs = 0;
const now = new Date(Math.floor(Date.now() / 1000) * 1000 + 123);

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("analytics-property");
});
afterAll(() => server.close());

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** An event as it happened: `at` is the true instant, before any client clock is off. */
interface TrueEvent {
  id: string;
  type: string;
  sessionId: string;
  at: number;
  stepKey: string | undefined;
  device: string | undefined;
}

/**
 * The history's events in the groups they are sent in: arrival out of order, some events sent
 * again, split into batches at random points.
 */
function arrivalGroups(
  history: Pick<ValueOf<typeof historyArb>, "sessions" | "arrivalKeys" | "resend" | "cuts">,
): TrueEvent[][] {
  let n = 0;
  const truth = history.sessions.flatMap((session, s) =>
    session.events.map((e): TrueEvent => {
      n++;
      const stepKey = e.step === null ? undefined : typeof e.step === "number" ? `s${e.step}` : e.step;
      return {
        id: `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`,
        type: e.type,
        sessionId: `session-${s}`,
        at: now.getTime() - session.startAgoMs + e.afterMs,
        stepKey: e.type === "step_view" && stepKey === undefined ? "s0" : stepKey,
        device: e.device ?? undefined,
      };
    }),
  );
  const arrival = truth
    .map((e, i) => ({ e, k: history.arrivalKeys[i % history.arrivalKeys.length] ?? 0 }))
    .sort((a, b) => a.k - b.k)
    .map(({ e }) => e);
  for (const r of history.resend) {
    const copy = arrival[r % arrival.length];
    if (copy) arrival.splice((r * 7) % (arrival.length + 1), 0, copy);
  }
  const cuts = [...new Set(history.cuts.map((c) => c % (arrival.length + 1)))].sort((a, b) => a - b);
  return [0, ...cuts, arrival.length]
    .flatMap((from, i, all) => (i < all.length - 1 ? [arrival.slice(from, all[i + 1])] : []))
    .filter((group) => group.length > 0);
}

/** The wire form of events sent by a client whose clock is off by `offMs`. */
function rawEvents(group: TrueEvent[], offMs: number): RawEvent[] {
  return group.map((e) => ({
    id: e.id,
    type: e.type,
    sessionId: e.sessionId,
    timestamp: new Date(e.at + offMs).toISOString(),
    ...(e.stepKey === undefined ? {} : { stepKey: e.stepKey }),
    ...(e.device === undefined ? {} : { device: e.device }),
  }));
}

/** Retrieve's answer, cut to the keys the reference computes. */
async function analyticsOf(slug: string, keys: string[]): Promise<Record<string, unknown>> {
  const res = await server.call(key, "GET", `/api/journeys/${slug}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as Record<string, unknown>;
  return Object.fromEntries(keys.map((k) => [k, body[k]]));
}

describe("Retrieve's analytics", () => {
  it("equal the reference computed from the raw events, for any history", async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, async (history) => {
        const slug = `prop-${++runs}`;
        const journey = await createJourney(server, key, slug, { steps: STEPS });

        const groups = arrivalGroups(history);

        const sent: SentBatch[] = [];
        for (const [i, group] of groups.entries()) {
          const b = history.batches[i % history.batches.length];
          if (!b) continue;
          const receivedAt = new Date(now.getTime() - b.lagMs);
          const headerSet = HEADER_SETS[b.headerSet] ?? { headers: {}, device: null };
          // With sentAt the client's clock is off by skewMs and corrected; without, it is off by
          // clientClockOffMs and left as is (a big enough error is clamped).
          const offMs = b.skewMs ?? b.clientClockOffMs;
          const events = rawEvents(group, offMs);
          const sentAt =
            b.skewMs === null ? undefined : new Date(receivedAt.getTime() + b.skewMs).toISOString();
          server.setNow(receivedAt);
          const res = await postEvents(
            server,
            { journey: slug, sentAt, events },
            { key, headers: headerSet.headers },
          );
          expect(res.status).toBe(200);
          const answer = (await res.json()) as { accepted: number; rejected: unknown[] };
          expect(answer).toMatchObject({ accepted: events.length, rejected: [] });
          sent.push({ receivedAt, sentAt, headerDevice: headerSet.device, events });
        }

        server.setNow(now);
        const expected = referenceAnalytics({ steps: journey.steps, batches: sent, now });
        expect(await analyticsOf(slug, Object.keys(expected))).toEqual(expected);

        const times = keptEvents(sent).map((e) => e.time);
        const instants = history.later
          .map(({ event, edge }) => {
            const span = EDGES[edge % EDGES.length] ?? 0;
            return (times[event % times.length] ?? now.getTime()) + span;
          })
          .filter((at) => at > now.getTime())
          .sort((a, b) => a - b);
        for (const at of instants) {
          server.setNow(new Date(at));
          const then = referenceAnalytics({ steps: journey.steps, batches: sent, now: new Date(at) });
          expect(await analyticsOf(slug, Object.keys(then))).toEqual(then);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("do not depend on the order in which concurrent batches commit", async () => {
    await fc.assert(
      fc.asyncProperty(concurrentArb, async (history) => {
        const slug = `prop-${++runs}`;
        const journey = await createJourney(server, key, slug, { steps: STEPS });
        const headerSet = HEADER_SETS[history.headerSet] ?? { headers: {}, device: null };
        const sent: SentBatch[] = arrivalGroups(history).map((group) => ({
          receivedAt: now,
          headerDevice: headerSet.device,
          events: rawEvents(group, history.clientClockOffMs),
        }));

        server.setNow(now);
        const answers = await Promise.all(
          sent.map(async ({ events }) => {
            const res = await postEvents(
              server,
              { journey: slug, events },
              { key, headers: headerSet.headers },
            );
            expect(res.status).toBe(200);
            return (await res.json()) as { accepted: number; duplicates: number; rejected: unknown[] };
          }),
        );
        for (const [i, answer] of answers.entries()) {
          expect(answer).toMatchObject({ accepted: sent[i]?.events.length, rejected: [] });
        }
        const stored = answers.reduce((sum, a) => sum + a.accepted - a.duplicates, 0);
        expect(stored).toBe(keptEvents(sent).length);

        const expected = referenceAnalytics({ steps: journey.steps, batches: sent, now });
        expect(await analyticsOf(slug, Object.keys(expected))).toEqual(expected);
      }),
      { numRuns: 30 },
    );
  });
});
