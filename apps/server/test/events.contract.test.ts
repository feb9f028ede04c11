import { queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, postEvents, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// POST /api/events as events-and-analytics.md describes it, over HTTP.

let server: TestServer;
let key: string;
const now = new Date("2026-11-26T10:00:00.000Z");

beforeAll(async () => {
  server = await startTestServer();
  server.setNow(now);
  key = await server.key("events-contract");
  await createJourney(server, key, "grant", { steps: 3 });
});
afterAll(() => server.close());

const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
const event = (over: Record<string, unknown> = {}) => ({
  id: uuid(),
  type: "step_view",
  sessionId: "sess-1",
  stepKey: "s0",
  timestamp: at(-60_000),
  ...over,
});

async function storedEvents(ids: string[]) {
  return queryRows<{
    id: string;
    occurred_at: string | Date;
    device: string | null;
    step_key: string | null;
  }>(
    server.database.db,
    sql`select id, occurred_at, device, step_key from events where id in ${
      ids.length
        ? sql`(${sql.join(
            ids.map((i) => sql`${i}`),
            sql`, `,
          )})`
        : sql`('')`
    }`,
  );
}

describe("POST /api/events", () => {
  it("accepts a batch and answers only once it is committed", async () => {
    const events = [
      event({ type: "session_start", stepKey: undefined }),
      event(),
      event({ type: "field_focus", field: "ein" }),
    ];
    const res = await postEvents(server, { journey: "grant", events }, { key });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [], unknownStepKeys: [] });
    expect(await storedEvents(events.map((e) => e.id))).toHaveLength(3);
  });
});
