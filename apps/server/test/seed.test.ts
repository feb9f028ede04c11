import { createApiKey, DEMO_SLUG, type DemoSeedResult, SeedInterruptedError } from "@odyssey/api";
import { queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../src/commands";
import { startTestServer, type TestServer } from "./support/server";

// `odyssey seed --demo`: a sample journey whose figures come through the real ingestion path.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** Events stored for an organization, whichever journey they belonged to. */
async function storedEvents(orgSlug: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    server.database.db,
    sql`select count(*)::int as n from events e join organizations o on o.id = e.org_id where o.slug = ${orgSlug}`,
  );
  return row?.n ?? -1;
}

describe("seed --demo", () => {
  it("creates a journey with sessions across devices and drop-offs, reporting progress", async () => {
    const progress: [number, number][] = [];
    const result = (await runCommand(
      server.database,
      { name: "seed.demo", org: "demo-org", days: 3, replace: false },
      (done, total) => progress.push([done, total]),
    )) as { journey: string; sessions: number; events: number };
    expect(result.sessions).toBeGreaterThan(30);
    expect(progress.at(-1)).toEqual([result.events, result.events]);

    const { key } = await createApiKey(server.database.db, { orgSlug: "demo-org", kind: "secret" });
    const res = await server.call(key, "GET", `/api/journeys/${result.journey}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      healthMetrics: { sessionCount: number; hasRecentEvents: boolean };
      behaviorMetrics: {
        completionRate: number;
        mobileRate: number;
        topDropoffStep: { stepKey: string } | null;
      };
      funnel: { reached: number }[];
    };
    expect(body.healthMetrics.sessionCount).toBe(result.sessions);
    expect(body.healthMetrics.hasRecentEvents).toBe(true);
    expect(body.behaviorMetrics.completionRate).toBeGreaterThan(0);
    expect(body.behaviorMetrics.completionRate).toBeLessThan(1);
    expect(body.behaviorMetrics.mobileRate).toBeGreaterThan(0);
    expect(body.behaviorMetrics.mobileRate).toBeLessThan(1);
    expect(body.behaviorMetrics.topDropoffStep).not.toBeNull();
    const reached = body.funnel.map((s) => s.reached);
    expect(reached).toEqual([...reached].sort((a, b) => b - a));
    expect(reached[0]).toBe(result.sessions);
  });

  it("refuses to seed the same organization twice, saying how to seed it again", async () => {
    await expect(
      runCommand(server.database, { name: "seed.demo", org: "demo-org", days: 1, replace: false }, () => {}),
    ).rejects.toThrow(
      /already exists .*; to seed it again, replace it \(odyssey seed --demo --replace deletes it and its events first\)$/,
    );
  });

  it("replaces an existing demo journey with a fresh history when asked", async () => {
    const { key } = await createApiKey(server.database.db, { orgSlug: "demo-replaced", kind: "secret" });
    const seed = (days: number, replace: boolean) =>
      runCommand(
        server.database,
        { name: "seed.demo", org: "demo-replaced", days, replace },
        () => {},
      ) as Promise<DemoSeedResult>;
    const first = await seed(4, false);
    expect(first.replaced).toBe(false);
    const second = await seed(1, true);
    expect(second.replaced).toBe(true);
    expect(second.sessions).toBeLessThan(first.sessions);
    // Only the second history is left: the first's sessions and events went with its journey.
    const res = await server.call(key, "GET", `/api/journeys/${second.journey}`);
    const body = (await res.json()) as { healthMetrics: { sessionCount: number } };
    expect(body.healthMetrics.sessionCount).toBe(second.sessions);
    expect(await storedEvents("demo-replaced")).toBe(second.events);
  });

  it("stops between batches when its signal aborts, deleting the partly seeded journey", async () => {
    const stop = new AbortController();
    let batches = 0;
    await expect(
      runCommand(
        server.database,
        { name: "seed.demo", org: "demo-stopped", days: 5, replace: false },
        () => {
          batches++;
          if (batches === 2) stop.abort();
        },
        stop.signal,
      ),
    ).rejects.toBeInstanceOf(SeedInterruptedError);
    expect(batches).toBe(2);
    const { key } = await createApiKey(server.database.db, { orgSlug: "demo-stopped", kind: "secret" });
    expect((await server.call(key, "GET", `/api/journeys/${DEMO_SLUG}`)).status).toBe(404);
    expect(await storedEvents("demo-stopped")).toBe(0);
    // Nothing is left in the way of seeding it again.
    const again = (await runCommand(
      server.database,
      { name: "seed.demo", org: "demo-stopped", days: 1, replace: false },
      () => {},
    )) as DemoSeedResult;
    expect(again.replaced).toBe(false);
  });

  it("stops, adding nothing, when its journey is deleted while it sends", async () => {
    const { key } = await createApiKey(server.database.db, { orgSlug: "demo-deleted", kind: "secret" });
    let batches = 0;
    let deleted: Promise<number> | undefined;
    await expect(
      runCommand(server.database, { name: "seed.demo", org: "demo-deleted", days: 5, replace: false }, () => {
        if (++batches === 2)
          deleted = server.call(key, "DELETE", `/api/journeys/${DEMO_SLUG}`).then((res) => res.status);
      }),
    ).rejects.toThrow(
      'The demo journey of organization "demo-deleted" was replaced or deleted while this seed was making it',
    );
    expect(await deleted).toBe(200);
    expect(await storedEvents("demo-deleted")).toBe(0);
  });

  it("leaves one history when several replace the demo journey at once", async () => {
    const { key } = await createApiKey(server.database.db, { orgSlug: "demo-raced", kind: "secret" });
    const seed = (days: number) =>
      runCommand(
        server.database,
        { name: "seed.demo", org: "demo-raced", days, replace: true },
        () => {},
      ) as Promise<DemoSeedResult>;
    await seed(1);
    const outcomes = await Promise.allSettled([seed(3), seed(4), seed(5)]);
    const seeded = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    for (const outcome of outcomes)
      if (outcome.status === "rejected")
        expect(String(outcome.reason)).toMatch(/was replaced or deleted while this seed was making it/);
    expect(seeded.length).toBeGreaterThan(0);
    // Whichever seed finished last owns the journey, alone: no events of the others remain.
    const body = (await (await server.call(key, "GET", `/api/journeys/${DEMO_SLUG}`)).json()) as {
      healthMetrics: { sessionCount: number };
    };
    const owner = seeded.find((s) => s.sessions === body.healthMetrics.sessionCount);
    expect(owner).toBeDefined();
    expect(await storedEvents("demo-raced")).toBe(owner?.events);
  });

  it("lets the server answer requests between its batches", async () => {
    // Each probe notes how many events had been sent when it was answered.
    const answeredAt: number[] = [];
    let sent = 0;
    let total = 0;
    let seeding = true;
    const probing = (async () => {
      while (seeding) {
        await fetch(`${server.url}/healthz`);
        answeredAt.push(sent);
      }
    })();
    await runCommand(
      server.database,
      { name: "seed.demo", org: "demo-probes", days: 5, replace: false },
      (done, of) => {
        sent = done;
        total = of;
      },
    );
    seeding = false;
    await probing;
    expect(total).toBeGreaterThan(1000);
    expect(answeredAt.some((at) => at > 0 && at < total)).toBe(true);
  });
});
