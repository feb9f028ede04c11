import { createApiKey } from "@odyssey/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../src/commands";
import { startTestServer, type TestServer } from "./support/server";

// `odyssey seed --demo`: a sample journey whose figures come through the real ingestion path.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe("seed --demo", () => {
  it("creates a journey with sessions across devices and drop-offs, reporting progress", async () => {
    const progress: [number, number][] = [];
    const result = (await runCommand(
      server.database,
      { name: "seed.demo", org: "demo-org", days: 3 },
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
      runCommand(server.database, { name: "seed.demo", org: "demo-org", days: 1 }, () => {}),
    ).rejects.toThrow(
      /already exists .*; to seed it again, delete it first \(DELETE \/api\/journeys\/demo-small-business-grant\)$/,
    );
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
    await runCommand(server.database, { name: "seed.demo", org: "demo-probes", days: 5 }, (done, of) => {
      sent = done;
      total = of;
    });
    seeding = false;
    await probing;
    expect(total).toBeGreaterThan(1000);
    expect(answeredAt.some((at) => at > 0 && at < total)).toBe(true);
  });
});
