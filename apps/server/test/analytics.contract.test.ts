import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, postEvents, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// One small history worked out by hand, so each figure's meaning is visible in one place.

let server: TestServer;
let key: string;
let steps: { id: string; stepKey: string }[];
const now = new Date("2026-11-26T12:30:00.000Z");
const MIN = 60_000;
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();

/** The parts of Retrieve's JSON these tests read. */
interface RetrieveJson {
  healthMetrics: unknown;
  behaviorMetrics: unknown;
  eventCountsLast24h: Record<string, number>;
  unmappedStepIds: string[];
  unknownStepKeys: unknown[];
  sessionsInProgress: number;
  funnel: unknown[];
  timeToComplete: unknown;
}
const retrieve = async (slug: string) =>
  (await (await server.call(key, "GET", `/api/journeys/${slug}`)).json()) as RetrieveJson;

const e = (sessionId: string, type: string, atMs: number, extra: Record<string, string> = {}) => ({
  id: uuid(),
  sessionId,
  type,
  timestamp: ago(atMs),
  ...extra,
});

beforeAll(async () => {
  server = await startTestServer();
  server.setNow(now);
  key = await server.key("analytics-example");
  steps = (await createJourney(server, key, "example", { steps: 3 })).steps;
  const events = [
    // a: mobile, completes in 600 s.
    e("a", "session_start", 120 * MIN, { device: "mobile" }),
    e("a", "step_view", 119 * MIN, { stepKey: "s0" }),
    e("a", "step_view", 115 * MIN, { stepKey: "s1" }),
    e("a", "submit_success", 110 * MIN),
    // b: no session_start; desktop; furthest s1, idle for 3 hours: abandoned at s1.
    e("b", "step_view", 180 * MIN, { stepKey: "s0", device: "desktop" }),
    e("b", "step_view", 178 * MIN, { stepKey: "s1" }),
    e("b", "field_error", 177 * MIN, { stepKey: "s1", field: "ein" }),
    // c: tablet, abandoned at s0; an event naming a step key the journey does not have.
    e("c", "session_start", 60 * MIN, { device: "tablet" }),
    e("c", "step_view", 59 * MIN, { stepKey: "s0" }),
    e("c", "field_focus", 58 * MIN, { stepKey: "legacy-step", field: "name" }),
    // d: active ten minutes ago: in progress, not abandoned.
    e("d", "session_start", 10 * MIN),
    e("d", "step_view", 9 * MIN, { stepKey: "s0" }),
    // f: completes in 1200 s after seeing every step.
    e("f", "session_start", 90 * MIN),
    e("f", "step_view", 89 * MIN, { stepKey: "s0" }),
    e("f", "step_view", 85 * MIN, { stepKey: "s1" }),
    e("f", "step_view", 80 * MIN, { stepKey: "s2" }),
    e("f", "submit_attempt", 71 * MIN),
    e("f", "submit_success", 70 * MIN),
    // old: entered 31 days ago, outside the cohort and every window.
    e("old", "session_start", 31 * 24 * 60 * MIN, { device: "mobile" }),
    e("old", "step_view", 31 * 24 * 60 * MIN, { stepKey: "s2" }),
  ];
  // Out of order, in two batches.
  const res1 = await postEvents(server, { journey: "example", events: events.slice(10).reverse() }, { key });
  const res2 = await postEvents(server, { journey: "example", events: events.slice(0, 10) }, { key });
  expect([res1.status, res2.status]).toEqual([200, 200]);
});
afterAll(() => server.close());

describe("Retrieve's analytics on a worked example", () => {
  it("answers every documented figure and the funnel extras", async () => {
    const res = await server.call(key, "GET", "/api/journeys/example");
    expect(res.status).toBe(200);
    const body = await res.json();
    const [s0, s1, s2] = steps;
    expect(body).toMatchObject({
      healthMetrics: { hasSteps: true, hasRecentEvents: true, sessionCount: 5, hasSnapshot: false },
      behaviorMetrics: {
        completionRate: 2 / 5,
        // Known devices: a mobile, b desktop, c tablet.
        mobileRate: 1 / 3,
        medianTimeToComplete: 900,
        topDropoffStep: { stepId: s1?.id, stepKey: "s1", stepName: "Step 1", abandonmentRate: 1 / 3 },
      },
      eventCountsLast24h: {
        session_start: 4,
        step_view: 9,
        field_focus: 1,
        field_error: 1,
        submit_attempt: 1,
        submit_success: 2,
        submit_failure: 0,
      },
      unmappedStepIds: [],
      lastArtifactCreated: null,
      funnel: [
        { stepId: s0?.id, stepKey: "s0", index: 0, reached: 5, abandoned: 1, abandonmentRate: 1 / 5 },
        { stepId: s1?.id, stepKey: "s1", index: 1, reached: 3, abandoned: 1, abandonmentRate: 1 / 3 },
        { stepId: s2?.id, stepKey: "s2", index: 2, reached: 1, abandoned: 0, abandonmentRate: 0 },
      ],
      timeToComplete: { p75: 1050, p90: 1140 },
      unknownStepKeys: [{ stepKey: "legacy-step", lastSeenAt: ago(58 * MIN) }],
      sessionsInProgress: 1,
    });
  });

  it("moves with now: eight days on, nothing is recent and every step is unmapped", async () => {
    server.setNow(new Date(now.getTime() + 8 * 24 * 60 * MIN));
    const body = await retrieve("example");
    server.setNow(now);
    expect(body.healthMetrics).toEqual({
      hasSteps: true,
      hasRecentEvents: false,
      sessionCount: 5,
      hasSnapshot: false,
    });
    expect(body.unmappedStepIds).toEqual(steps.map((s) => s.id));
    expect(body.unknownStepKeys).toEqual([]);
    expect(Object.values(body.eventCountsLast24h)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(body.sessionsInProgress).toBe(0);
    expect(body.funnel[0]).toMatchObject({ reached: 5, abandoned: 2 });
  });

  it("answers null rates, not 0, when nothing has happened", async () => {
    await createJourney(server, key, "quiet", { steps: 1 });
    const body = await retrieve("quiet");
    expect(body.behaviorMetrics).toEqual({
      completionRate: null,
      mobileRate: null,
      medianTimeToComplete: null,
      topDropoffStep: null,
    });
    expect(body.timeToComplete).toEqual({ p75: null, p90: null });
    expect(body.funnel).toEqual([
      expect.objectContaining({ reached: 0, abandoned: 0, abandonmentRate: null }),
    ]);
  });
});
