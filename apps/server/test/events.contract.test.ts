import { queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, postEvents, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// POST /api/events as the events and analytics contract describes it, over HTTP.

let server: TestServer;
let key: string;
const now = new Date("2026-11-26T10:00:00.000Z");
const MIN = 60_000;

beforeAll(async () => {
  server = await startTestServer();
  server.setNow(now);
  key = await server.key("events-contract");
  await createJourney(server, key, "grant", { steps: 3 });
  await createJourney(server, key, "far-times", { steps: 1 });
});
afterAll(() => server.close());

const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
const event = (over: Record<string, unknown> = {}) => ({
  id: uuid(),
  type: "step_view",
  sessionId: "sess-1",
  stepKey: "s0",
  timestamp: at(-MIN),
  ...over,
});

type StoredRow = {
  id: string;
  occurred_at: string;
  device: string | null;
  step_key: string | null;
};

async function stored(ids: string[]): Promise<Map<string, StoredRow>> {
  const rows = await queryRows<StoredRow>(
    server.database.db,
    sql`select id, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as occurred_at,
        device, step_key from events where id in (${sql.join(
          ids.map((i) => sql`${i}`),
          sql`, `,
        )})`,
  );
  return new Map(rows.map((r) => [r.id, r]));
}

async function retrieve(slug = "grant") {
  const res = await server.call(key, "GET", `/api/journeys/${slug}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown> & { eventCountsLast24h: Record<string, number> };
}

describe("POST /api/events", () => {
  it("accepts a batch, answers once it is committed, and Retrieve counts it", async () => {
    const events = [
      event({ type: "session_start", stepKey: undefined, sessionId: "first" }),
      event({ sessionId: "first" }),
      event({ type: "field_focus", field: "ein", sessionId: "first" }),
    ];
    const res = await postEvents(server, { journey: "grant", events }, { key });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [], unknownStepKeys: [] });
    expect((await stored(events.map((e) => e.id))).size).toBe(3);
    const counts = (await retrieve()).eventCountsLast24h;
    expect(counts).toMatchObject({ session_start: 1, step_view: 1, field_focus: 1 });
  });

  it("checks the key first, even when the journey named could not be looked up", async () => {
    const body = { journey: "gr\u0000ant", events: [event()] };
    const unknown = await postEvents(server, body, { key: "ody_sk_notakeyatall" });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toEqual({ error: "Invalid API key" });
    const known = await postEvents(server, body, { key });
    expect(known.status).toBe(400);
    expect(await known.json()).toEqual({
      error: "Invalid event data: journey must not contain NUL characters",
    });
  });

  it("stores text fields exactly, whatever characters they hold", async () => {
    const awkward = ['quo"te', "back\\slash", "NULL", "", "{a,b}", " spaced ", "line\nbreak\ttab", "é ✓ 🚀"];
    const events = awkward.map((text, i) =>
      event({ type: "field_focus", sessionId: `odd ${text}`, stepKey: text || null, field: `${text}${i}` }),
    );
    await createJourney(server, key, "awkward-text", { steps: 1 });
    const res = await postEvents(server, { journey: "awkward-text", events }, { key });
    expect(await res.json()).toMatchObject({ accepted: awkward.length, rejected: [] });
    const rows = await queryRows<{ id: string; session_id: string; step_key: string | null; field: string }>(
      server.database.db,
      sql`select id, session_id, step_key, field from events where id in (${sql.join(
        events.map((e) => sql`${e.id}`),
        sql`, `,
      )})`,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    awkward.forEach((text, i) => {
      expect(byId.get(events[i]?.id as string)).toEqual({
        id: events[i]?.id,
        session_id: `odd ${text}`,
        step_key: text || null,
        field: `${text}${i}`,
      });
    });
  });

  it("treats the same batch sent three times as one: nothing changes after the first", async () => {
    const events = [
      event({ type: "session_start", stepKey: undefined, sessionId: "retry" }),
      event({ sessionId: "retry", stepKey: "s1" }),
      event({ type: "submit_success", stepKey: undefined, sessionId: "retry" }),
    ];
    const first = await postEvents(server, { journey: "grant", events }, { key });
    expect(await first.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [], unknownStepKeys: [] });
    const after = await retrieve();
    for (let i = 0; i < 2; i++) {
      // A retry leaves later, with another sentAt: the corrected times differ, the ids do not.
      server.setNow(new Date(now.getTime() + (i + 1) * 1000));
      const again = await postEvents(server, { journey: "grant", sentAt: at(-5000), events }, { key });
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ accepted: 3, duplicates: 3, rejected: [], unknownStepKeys: [] });
    }
    server.setNow(now);
    expect(await retrieve()).toEqual(after);
    const rows = await queryRows<{ n: number }>(
      server.database.db,
      sql`select count(*)::int as n from events where session_id = 'retry'`,
    );
    expect(rows[0]?.n).toBe(3);
  });

  it("stores only the new events of a batch that repeats some stored ones, and counts them once", async () => {
    const old = [event({ sessionId: "partly-old" }), event({ sessionId: "partly-old", stepKey: "s1" })];
    const first = await postEvents(server, { journey: "grant", events: old }, { key });
    expect(await first.json()).toMatchObject({ duplicates: 0 });
    const added = [event({ sessionId: "partly-old", stepKey: "s2" }), event({ sessionId: "partly-new" })];
    const res = await postEvents(server, { journey: "grant", events: [added[0], ...old, added[1]] }, { key });
    expect(await res.json()).toEqual({ accepted: 4, duplicates: 2, rejected: [], unknownStepKeys: [] });
    const ids = [...old, ...added].map((e) => e.id);
    expect([...(await stored(ids)).keys()].sort()).toEqual(ids.sort());
    const [session] = await queryRows<{ furthest: number }>(
      server.database.db,
      sql`select furthest_step_index as furthest from event_sessions where session_id = 'partly-old'`,
    );
    expect(session?.furthest).toBe(2);
  });

  it("stores each id once when concurrent batches carry the same ids", async () => {
    const shared = Array.from({ length: 20 }, (_, i) => event({ sessionId: `race-${i % 4}` }));
    const own = Array.from({ length: 6 }, (_, i) => event({ sessionId: `race-own-${i}` }));
    // Six batches at once: each carries every shared id, in its own order, and one id of its own.
    const answers = await Promise.all(
      own.map(async (mine, i) => {
        const events = [...shared.slice(i), mine, ...shared.slice(0, i)];
        const res = await postEvents(server, { journey: "grant", events }, { key });
        expect(res.status).toBe(200);
        return (await res.json()) as { accepted: number; duplicates: number };
      }),
    );
    const storedCount = answers.reduce((sum, a) => sum + a.accepted - a.duplicates, 0);
    expect(storedCount).toBe(shared.length + own.length);
    const rows = await queryRows<{ n: number }>(
      server.database.db,
      sql`select count(*)::int as n from events where session_id like 'race-%'`,
    );
    expect(rows[0]?.n).toBe(shared.length + own.length);
  });

  it("counts a duplicate within one batch once", async () => {
    const e = event({ sessionId: "dup-in-batch", type: "field_error", field: "email" });
    const res = await postEvents(
      server,
      { journey: "grant", events: [e, { ...e, id: e.id.toUpperCase() }, e] },
      { key },
    );
    expect(await res.json()).toEqual({ accepted: 3, duplicates: 2, rejected: [], unknownStepKeys: [] });
    expect((await stored([e.id])).size).toBe(1);
  });

  it("rejects invalid events one by one, with their index and reason, and keeps the rest", async () => {
    const good = event({ sessionId: "mixed" });
    const res = await postEvents(
      server,
      {
        journey: "grant",
        events: [
          { ...event(), type: "page_view" },
          good,
          { ...event(), id: "not-a-uuid" },
          { ...event(), timestamp: "yesterday" },
          "just a string",
          { ...event(), stepKey: undefined },
          { ...event(), sessionId: "" },
          { ...event(), timestamp: "2020-01-01T00:00:00.000Z" },
          { ...event(), sessionId: "nul\u0000inside" },
          { ...event(), field: "lone \ud800 surrogate" },
          { ...event(), id: undefined },
          { ...event(), type: undefined },
        ],
      },
      { key },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [
        {
          index: 0,
          error:
            "type must be one of: session_start, step_view, field_focus, field_error, submit_attempt, submit_success, submit_failure",
        },
        { index: 2, error: "id must be a UUID" },
        { index: 3, error: "timestamp must be a valid datetime" },
        { index: 4, error: "event must be an object" },
        { index: 5, error: "stepKey is required for step_view events" },
        { index: 6, error: "sessionId must not be empty" },
        { index: 7, error: "timestamp is more than 365 days before the batch was received" },
        { index: 8, error: "sessionId must not contain NUL characters" },
        { index: 9, error: "field must be valid Unicode text" },
        { index: 10, error: "id is required" },
        { index: 11, error: "type is required" },
      ],
      unknownStepKeys: [],
    });
    expect((await stored([good.id])).size).toBe(1);
  });

  describe("an event past the body's JSON limits (16384 characters, 32 levels) is judged alone", () => {
    const nested = (depth: number) => JSON.parse(`${'{"x":'.repeat(depth)}1${"}".repeat(depth)}`);
    /** A batch whose events 1 and 4 are invalid only through the limits; 0, 2 and 3 are stored. */
    const batch = (sessionId: string) => {
      const events = [
        event({ sessionId }),
        event({ sessionId, type: "field_focus", field: "f".repeat(20_000) }),
        event({ sessionId, value: "v".repeat(20_000) }), // unknown members are dropped
        event({ sessionId, meta: nested(40) }),
        "s".repeat(20_000),
      ];
      const answer = {
        accepted: 3,
        duplicates: 0,
        rejected: [
          { index: 1, error: "field must be at most 200 characters" },
          { index: 4, error: "event must be an object" },
        ],
        unknownStepKeys: [],
      };
      const kept = [0, 2, 3].map((i) => (events[i] as { id: string }).id);
      return { events, answer, kept };
    };
    const trpc = (path: string, body: unknown) =>
      fetch(`${server.url}/trpc/${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    it("over REST", async () => {
      const { events, answer, kept } = batch("limits-rest");
      const res = await postEvents(server, { journey: "grant", events }, { key });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(answer);
      expect([...(await stored(kept)).keys()].sort()).toEqual([...kept].sort());
    });

    it("over tRPC, alone and in a batch of calls", async () => {
      const alone = batch("limits-trpc");
      const res = await trpc("events.ingest", { json: { journey: "grant", events: alone.events } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { result: { data: { json: unknown } } }).result.data.json).toEqual(
        alone.answer,
      );
      const [first, second] = [batch("limits-trpc-1"), batch("limits-trpc-2")];
      const both = await trpc("events.ingest,events.ingest?batch=1", {
        0: { json: { journey: "grant", events: first.events } },
        1: { json: { journey: "grant", events: second.events } },
      });
      expect(both.status).toBe(200);
      const answers = (await both.json()) as { result: { data: { json: unknown } } }[];
      expect(answers.map((a) => a.result.data.json)).toEqual([first.answer, second.answer]);
      const kept = [...alone.kept, ...first.kept, ...second.kept];
      expect((await stored(kept)).size).toBe(kept.length);
    });

    it("still refuses the whole body for what lies outside the events", async () => {
      const { events } = batch("limits-outside");
      const cases: [unknown, string][] = [
        [
          { events, journey: "j".repeat(20_000) },
          "Invalid event data: journey must be at most 255 characters",
        ],
        [
          { events, journey: "grant", extra: nested(40) },
          "Invalid event data: extra must not be nested more than 32 levels deep",
        ],
      ];
      for (const [body, error] of cases) {
        const res = await postEvents(server, body, { key });
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({ error });
      }
      // In a batch of tRPC calls, only events.ingest's events are judged one by one.
      const mixed = await trpc("journeys.create,events.ingest?batch=1", {
        0: { json: { slug: "limits-mixed", displayName: "d".repeat(20_000) } },
        1: { json: { journey: "grant", events } },
      });
      expect(mixed.status).toBe(400);
      const ids = events.flatMap((e) => (typeof e === "string" ? [] : [e.id]));
      expect((await stored(ids)).size).toBe(0);
    });
  });

  it("answers 415 to a body that is neither JSON nor text/plain, naming both", async () => {
    const res = await postEvents(server, "a=b", {
      key,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({ error: "Content-Type must be application/json or text/plain" });
  });

  it("rejects one by one the events whose times cannot be stored, and stores the rest", async () => {
    const good = event({ sessionId: "storable" });
    const latest = event({ sessionId: "storable", timestamp: "9999-12-31T23:59:59.999Z" });
    const earliest = event({ sessionId: "storable", timestamp: "0001-01-01T00:00:00Z" });
    const events = [
      // Past year 9999 once its offset is applied.
      { id: uuid(), type: "session_start", sessionId: "z", timestamp: "9999-12-31T23:59:59-10:00" },
      event({ timestamp: "0000-01-01T00:00:00Z" }),
      // Year 0001 where it was written, year 0000 in UTC.
      event({ timestamp: "0001-01-01T00:00:00+00:01" }),
      good,
      latest,
      earliest,
    ];
    const res = await postEvents(server, { journey: "far-times", events }, { key });
    expect(res.status).toBe(200);
    const outOfRange = "timestamp must be a time in the years 0001 to 9999 (UTC)";
    expect(await res.json()).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [
        { index: 0, error: outOfRange },
        { index: 1, error: outOfRange },
        { index: 2, error: outOfRange },
        // Storable, but older than the service keeps.
        { index: 5, error: "timestamp is more than 365 days before the batch was received" },
      ],
      unknownStepKeys: [],
    });
    const rows = await stored([good.id, latest.id]);
    expect(rows.get(good.id)?.occurred_at).toBe(at(-MIN));
    // The latest storable time is clamped to the receipt time, and kept as the client wrote it.
    expect(rows.get(latest.id)?.occurred_at).toBe(now.toISOString());
    const [client] = await queryRows<{ client_time: string }>(
      server.database.db,
      sql`select to_char(client_time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as client_time
        from events where id = ${latest.id}`,
    );
    expect(client?.client_time).toBe("9999-12-31T23:59:59.999Z");
  });

  it("answers 400 for a sentAt outside the years 0001 to 9999, and stores nothing", async () => {
    for (const sentAt of ["0000-01-01T00:00:05Z", "9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+00:01"]) {
      const events = [event({ timestamp: "0000-01-01T00:00:00Z" }), event({ sessionId: "bad-sent-at" })];
      const res = await postEvents(server, { journey: "far-times", sentAt, events }, { key });
      expect(res.status, sentAt).toBe(400);
      expect(await res.json()).toEqual({
        error: "Invalid event data: sentAt must be a time in the years 0001 to 9999 (UTC)",
      });
      expect((await stored(events.map((e) => e.id))).size).toBe(0);
    }
    // The earliest storable sentAt: the event's time is corrected by the client clock's skew.
    const e = event({ sessionId: "year-one", timestamp: "0001-01-01T00:00:00Z" });
    const res = await postEvents(
      server,
      { journey: "far-times", sentAt: "0001-01-01T00:00:05Z", events: [e] },
      { key },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: [] });
    expect((await stored([e.id])).get(e.id)?.occurred_at).toBe(at(-5000));
  });

  it("rejects an event whose corrected time would fall past year 9999", async () => {
    // Received a minute before the end of year 9999, from a client clock two minutes behind.
    server.setNow(new Date("9999-12-31T23:59:00.000Z"));
    try {
      const kept = event({ sessionId: "last-minute", timestamp: "9999-12-31T23:57:10.000Z" });
      const ahead = event({ sessionId: "last-minute", timestamp: "9999-12-31T23:58:30.000Z" });
      const res = await postEvents(
        server,
        { journey: "far-times", sentAt: "9999-12-31T23:57:00.000Z", events: [kept, ahead] },
        { key },
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        accepted: 1,
        duplicates: 0,
        rejected: [
          {
            index: 1,
            error: "timestamp, corrected for clock skew, is not a time in the years 0001 to 9999 (UTC)",
          },
        ],
        unknownStepKeys: [],
      });
      expect((await stored([kept.id, ahead.id])).get(kept.id)?.occurred_at).toBe("9999-12-31T23:59:10.000Z");
      expect((await stored([ahead.id])).size).toBe(0);
    } finally {
      server.setNow(now);
    }
  });

  it("stores events naming unknown step keys and reports the keys", async () => {
    const events = [
      event({ stepKey: "old-step", sessionId: "unk" }),
      event({ stepKey: "s2", sessionId: "unk" }),
    ];
    const res = await postEvents(server, { journey: "grant", events }, { key });
    expect(await res.json()).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [],
      unknownStepKeys: ["old-step"],
    });
    expect((await stored([events[0]?.id ?? ""])).get(events[0]?.id ?? "")?.step_key).toBe("old-step");
    expect((await retrieve()).unknownStepKeys).toEqual([{ stepKey: "old-step", lastSeenAt: at(-MIN) }]);
  });

  it("reports the unknown step key of a stored event only, not of a repeat of its id in the batch", async () => {
    const first = event({ stepKey: "s1", sessionId: "unk-dup" });
    const repeat = { ...first, stepKey: "ghost-step" };
    const res = await postEvents(server, { journey: "grant", events: [first, repeat] }, { key });
    expect(await res.json()).toEqual({ accepted: 2, duplicates: 1, rejected: [], unknownStepKeys: [] });
    expect((await stored([first.id])).get(first.id)?.step_key).toBe("s1");
    expect((await retrieve()).unknownStepKeys).not.toContainEqual(
      expect.objectContaining({ stepKey: "ghost-step" }),
    );
  });

  it("reads a null sentAt or key as absent, as it does an event's optional fields", async () => {
    const e = event({ sessionId: "null-fields", timestamp: at(-2 * MIN) });
    const res = await postEvents(server, { journey: "grant", sentAt: null, key: null, events: [e] }, { key });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [], unknownStepKeys: [] });
    expect((await stored([e.id])).get(e.id)?.occurred_at).toBe(at(-2 * MIN));
  });

  it("corrects client clock skew with sentAt and clamps times more than 5 minutes ahead", async () => {
    // The client clock runs 2 hours ahead: sentAt says 12:00, the server receives at 10:00.
    const skewed = event({ timestamp: at(2 * 60 * MIN - 30_000) });
    const r1 = await postEvents(
      server,
      { journey: "grant", sentAt: at(2 * 60 * MIN), events: [skewed] },
      { key },
    );
    expect(r1.status).toBe(200);
    // Without sentAt: 4 minutes ahead is kept, 6 minutes ahead becomes the receipt time.
    const near = event({ timestamp: at(4 * MIN) });
    const far = event({ timestamp: at(6 * MIN) });
    const r2 = await postEvents(server, { journey: "grant", events: [near, far] }, { key });
    expect(r2.status).toBe(200);
    const rows = await stored([skewed.id, near.id, far.id]);
    expect(rows.get(skewed.id)?.occurred_at).toBe(at(-30_000));
    expect(rows.get(near.id)?.occurred_at).toBe(at(4 * MIN));
    expect(rows.get(far.id)?.occurred_at).toBe(now.toISOString());
  });

  it("reads times as RFC 3339 does: `t` and `z` in either case, any offset", async () => {
    const lower = event({ timestamp: "2026-11-26t09:58:00.250z" });
    const offset = event({ timestamp: "2026-11-26T10:57:00+01:00" });
    const res = await postEvents(
      server,
      { journey: "grant", sentAt: "2026-11-26t10:00:00z", events: [lower, offset] },
      { key },
    );
    expect(await res.json()).toMatchObject({ accepted: 2, rejected: [] });
    const rows = await stored([lower.id, offset.id]);
    expect(rows.get(lower.id)?.occurred_at).toBe("2026-11-26T09:58:00.250Z");
    expect(rows.get(offset.id)?.occurred_at).toBe("2026-11-26T09:57:00.000Z");
  });

  it("reads a leap second (23:59:60 in UTC) as the last millisecond of its minute, and no other 60th second", async () => {
    // sentAt is a leap second too: 2016-12-31T23:59:59.999Z, received at 2026-11-26T10:00:00Z.
    const before = event({ timestamp: "2016-12-31T23:59:59.500Z" });
    const leap = event({ timestamp: "2016-12-31T23:59:60.250Z" });
    const leapWithOffset = event({ timestamp: "2017-01-01T00:59:60+01:00" });
    const notLeap = event({ timestamp: "2026-11-26T09:58:60Z" });
    const res = await postEvents(
      server,
      { journey: "grant", sentAt: "2016-12-31T23:59:60Z", events: [before, leap, leapWithOffset, notLeap] },
      { key },
    );
    expect(await res.json()).toMatchObject({
      accepted: 3,
      rejected: [
        { index: 3, error: "timestamp has a 60th second, which only a leap second has (23:59:60 in UTC)" },
      ],
    });
    const rows = await stored([before.id, leap.id, leapWithOffset.id]);
    expect(rows.get(before.id)?.occurred_at).toBe("2026-11-26T09:59:59.501Z");
    expect(rows.get(leap.id)?.occurred_at).toBe(now.toISOString());
    expect(rows.get(leapWithOffset.id)?.occurred_at).toBe(now.toISOString());
    const badSentAt = await postEvents(
      server,
      { journey: "grant", sentAt: "2026-11-26T09:59:60Z", events: [event({})] },
      { key },
    );
    expect(badSentAt.status).toBe(400);
    expect(await badSentAt.json()).toEqual({
      error: "Invalid event data: sentAt has a 60th second, which only a leap second has (23:59:60 in UTC)",
    });
  });

  it("takes the device from the event, else Sec-CH-UA-Mobile, else the User-Agent, else unknown", async () => {
    const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1";
    const windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36";
    const cases: [Record<string, string>, string | undefined, string | null][] = [
      [{ "user-agent": iphone }, "desktop", "desktop"],
      [{ "sec-ch-ua-mobile": "?1", "user-agent": windows }, undefined, "mobile"],
      [{ "sec-ch-ua-mobile": "?0", "user-agent": iphone }, undefined, "desktop"],
      [{ "user-agent": iphone }, undefined, "mobile"],
      [{ "user-agent": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)" }, undefined, "tablet"],
      [{ "user-agent": windows }, undefined, "desktop"],
      [{ "user-agent": "curl/8.5.0" }, undefined, null],
      [{}, undefined, null],
    ];
    for (const [headers, device, expected] of cases) {
      const e = event({ device });
      const res = await postEvents(server, { journey: "grant", events: [e] }, { key, headers });
      expect(res.status).toBe(200);
      expect((await stored([e.id])).get(e.id)?.device).toBe(expected);
    }
  });

  it("accepts a JSON body sent as text/plain, as navigator.sendBeacon sends it", async () => {
    const e = event();
    const res = await postEvents(
      server,
      { journey: "grant", events: [e] },
      { key, headers: { "content-type": "text/plain;charset=UTF-8" } },
    );
    expect(res.status).toBe(200);
    expect((await stored([e.id])).size).toBe(1);
  });

  it("keeps requiring JSON on the control-plane routes", async () => {
    const res = await fetch(`${server.url}/api/journeys/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "text/plain" },
      body: JSON.stringify({ slug: "plain", displayName: "Plain" }),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({ error: "Content-Type must be application/json" });
  });

  it("answers 413 past 500 events, and stores none of them", async () => {
    const events = Array.from({ length: 501 }, () => event({ sessionId: "too-many" }));
    const res = await postEvents(server, { journey: "grant", events }, { key });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "A batch may carry at most 500 events; this one has 501" });
    expect((await stored(events.map((e) => e.id))).size).toBe(0);
    const ok = await postEvents(server, { journey: "grant", events: events.slice(0, 500) }, { key });
    expect(await ok.json()).toMatchObject({ accepted: 500, duplicates: 0 });
  });

  it("holds a tRPC request to 500 events across its calls of events.ingest, and stores none past that", async () => {
    const ingestTwice = (first: unknown[], second: unknown[]) =>
      fetch(`${server.url}/trpc/events.ingest,events.ingest,events.ingest?batch=1`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          0: { json: { journey: "grant", events: first } },
          1: { json: { journey: "grant", events: [] } },
          2: { json: { journey: "grant", events: second } },
        }),
      });
    const many = (n: number) => Array.from({ length: n }, () => event({ sessionId: "split-request" }));
    const [first, second] = [many(300), many(201)];
    const res = await ingestTwice(first, second);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      error: {
        json: {
          message: "A request may carry at most 500 events; this one has 501 in 3 calls of events.ingest",
          data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 },
        },
      },
    });
    expect((await stored([...first, ...second].map((e) => e.id))).size).toBe(0);
    const ok = await ingestTwice(first, second.slice(0, 200));
    expect(ok.status).toBe(200);
    expect((await stored([...first, ...second].map((e) => e.id))).size).toBe(500);

    // superjson references are not applied (tRPC inputs are read from their json), so they
    // cannot fill `events` from another member past the count.
    const hidden = (events: unknown[]) => ({
      json: { journey: "grant", events: [], spare: events },
      meta: { referentialEqualities: { spare: ["events"] } },
    });
    const [third, fourth] = [many(300), many(300)];
    const disguised = await fetch(`${server.url}/trpc/events.ingest,events.ingest?batch=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ 0: hidden(third), 1: hidden(fourth) }),
    });
    expect(disguised.status).toBe(200);
    expect((await stored([...third, ...fourth].map((e) => e.id))).size).toBe(0);
  });

  it("answers 413 past 512 KiB", async () => {
    const events = Array.from({ length: 400 }, () =>
      event({ sessionId: "x".repeat(200), field: "f".repeat(200) }),
    );
    const body = JSON.stringify({ journey: "grant", events, padding: "p".repeat(512 * 1024) });
    const res = await postEvents(server, body, { key });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "An event batch may be at most 524288 bytes (512 KiB)" });
  });

  it("answers 400 in the {error} shape for a body that is not a batch", async () => {
    const cases: [string, string][] = [
      ["{not json", "Invalid event data: the body is not valid JSON"],
      [JSON.stringify({ journey: "grant" }), "Invalid event data: events is required"],
      [JSON.stringify({ journey: "grant", events: {} }), "Invalid event data: events must be an array"],
      [JSON.stringify({ events: [] }), "Invalid event data: journey is required"],
      [
        JSON.stringify({ journey: "grant", sentAt: "later", events: [] }),
        "Invalid event data: sentAt must be a valid datetime",
      ],
      [JSON.stringify([1, 2]), "Invalid event data: body must be an object"],
      [
        JSON.stringify({ journey: "gr\u0000ant", events: [] }),
        "Invalid event data: journey must not contain NUL characters",
      ],
    ];
    for (const [body, error] of cases) {
      const res = await postEvents(server, body, { key });
      expect(res.status, body).toBe(400);
      expect(await res.json()).toEqual({ error });
    }
  });

  it("answers 404 for a journey that does not exist", async () => {
    const res = await postEvents(server, { journey: "nope", events: [event()] }, { key });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'Journey with slug "nope" not found' });
  });

  const storedRowsOutside = async (journeyId: string) => {
    const [counts] = await queryRows<{ events: number; ids: number }>(
      server.database.db,
      sql`select (select count(*) from events where journey_id <> ${journeyId})::int as events,
        (select count(*) from event_ids where journey_id <> ${journeyId})::int as ids`,
    );
    return counts;
  };

  it("deletes a journey's events and summaries with the journey", async () => {
    const doomed = await createJourney(server, key, "doomed", { steps: 1 });
    const events = [event({ sessionId: "doomed" }), event({ sessionId: "doomed", type: "submit_success" })];
    expect((await postEvents(server, { journey: "doomed", events }, { key })).status).toBe(200);
    const othersBefore = await storedRowsOutside(doomed.id);
    expect(othersBefore?.events).toBeGreaterThan(0);
    expect((await server.call(key, "DELETE", "/api/journeys/doomed")).status).toBe(200);
    // Other journeys keep every event and id.
    expect(await storedRowsOutside(doomed.id)).toEqual(othersBefore);
    const [left] = await queryRows<{ n: number }>(
      server.database.db,
      sql`select ((select count(*) from events where journey_id = ${doomed.id})
        + (select count(*) from event_ids where journey_id = ${doomed.id})
        + (select count(*) from event_sessions where journey_id = ${doomed.id})
        + (select count(*) from event_hour_counts where journey_id = ${doomed.id}))::int as n`,
    );
    expect(left?.n).toBe(0);
  });

  it("is the tRPC procedure events.ingest too", async () => {
    const e = event({ sessionId: "trpc" });
    const res = await fetch(`${server.url}/trpc/events.ingest`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { journey: "grant", events: [e, { ...e, id: "bad" }] } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { json: unknown } } };
    expect(body.result.data.json).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [{ index: 1, error: "id must be a UUID" }],
      unknownStepKeys: [],
    });
  });

  it("is documented in the OpenAPI document with every status", async () => {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, unknown>; requestBody: { content: object } }>
      >;
      components: { schemas: Record<string, Schema> };
    };
    const post = doc.paths["/api/events"]?.post;
    expect(Object.keys(post?.responses ?? {}).sort()).toEqual(
      ["200", "400", "401", "403", "404", "413", "415", "429", "500", "503"].sort(),
    );
    expect(Object.keys(post?.requestBody.content ?? {})).toEqual(["application/json", "text/plain"]);
    // The time rules a schema cannot say, in the event's words: the clamp and the past limit.
    const batch = doc.components.schemas.EventBatch;
    const event = batch?.properties?.events?.items?.description ?? "";
    expect(event).toContain("more than 5 minutes after receipt counts as the receipt time");
    expect(event).toContain("more than 365 days before it is rejected");
  });
});

interface Schema {
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
}
