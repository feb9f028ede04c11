import { queryRows } from "@odyssey/db";
import { testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, postEvents, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// Retrieve's figures come from several queries. A batch that commits between two of them must
// not show in one figure and not in another: every figure is of one moment, and a snapshot
// stores them so for good. (Only Postgres runs queries at once; PGlite runs one at a time.)

let server: TestServer;
let key: string;

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("analytics-moment");
});
afterAll(() => server.close());

async function waitFor(condition: () => Promise<boolean>) {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("timed out waiting");
}

describe.runIf(testEngine() === "postgres")("analytics read while a batch commits", () => {
  it("are of one moment: a write committed between the queries shows in none of them", async () => {
    const journey = await createJourney(server, key, "moment", { steps: 2 });
    const now = new Date();
    const event = (type: string, stepKey?: string) => ({
      id: uuid(),
      type,
      sessionId: "first",
      timestamp: new Date(now.getTime() - 60_000).toISOString(),
      ...(stepKey ? { stepKey } : {}),
    });
    const sent = await postEvents(
      server,
      { journey: "moment", events: [event("session_start"), event("step_view", "s0")] },
      { key },
    );
    expect(sent.status).toBe(200);
    const { db } = server.database;
    const [org] = await queryRows<{ org_id: string }>(
      db,
      sql`select org_id from journeys where id = ${journey.id}`,
    );

    // A writer holds the step keys, which the analytics read after the sessions; once the read
    // waits on them, the writer records step s1 as seen, moves the version on and commits.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const writer = db.transaction(async (tx) => {
      await tx.execute(sql`lock table event_step_keys in access exclusive mode`);
      await held;
      await tx.execute(sql`insert into event_step_keys (org_id, journey_id, step_key, shard, last_seen_at, event_count)
        values (${org?.org_id}, ${journey.id}, 's1', 0, now(), 1)`);
      await tx.execute(sql`insert into analytics_versions (org_id, journey_id, shard, version)
        values (${org?.org_id}, ${journey.id}, 0, 1)
        on conflict (org_id, journey_id, shard) do update set version = analytics_versions.version + 1`);
    });
    const snapshot = server.call(key, "POST", "/api/journeys/moment/snapshots");
    await waitFor(async () => {
      const [waiting] = await queryRows<{ n: number }>(
        db,
        sql`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%event_step_keys%'`,
      );
      return (waiting?.n ?? 0) > 0;
    });
    release();
    await writer;

    const frozen = (await (await snapshot).json()) as { analytics: { unmappedStepIds: string[] } };
    const [, s1] = journey.steps;
    // Of the moment the read began: s1 not yet seen.
    expect(frozen.analytics.unmappedStepIds).toEqual([s1?.id]);
    // The next Retrieve is of a later moment, with the write in it.
    const after = (await (await server.call(key, "GET", "/api/journeys/moment")).json()) as {
      unmappedStepIds: string[];
    };
    expect(after.unmappedStepIds).toEqual([]);
  });
});
