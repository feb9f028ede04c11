import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, postEvents, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// POST and GET /api/journeys/{slug}/snapshots; Retrieve's hasSnapshot and lastArtifactCreated.

let server: TestServer;
let key: string;
const t0 = new Date("2026-11-20T09:00:00.000Z");

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("snapshots");
  server.setNow(t0);
  await createJourney(server, key, "grant", { steps: 2 });
});
afterAll(() => server.close());

async function retrieve() {
  const res = await server.call(key, "GET", "/api/journeys/grant");
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown> & { healthMetrics: { hasSnapshot: boolean } };
}

describe("snapshots", () => {
  it("start absent: hasSnapshot false, lastArtifactCreated null, an empty list", async () => {
    const body = await retrieve();
    expect(body.healthMetrics.hasSnapshot).toBe(false);
    expect(body.lastArtifactCreated).toBeNull();
    const list = await server.call(key, "GET", "/api/journeys/grant/snapshots");
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ data: [] });
  });

  it("freeze the configuration and analytics, and Retrieve follows the newest", async () => {
    await postEvents(
      server,
      {
        journey: "grant",
        events: [
          {
            id: uuid(),
            type: "session_start",
            sessionId: "a",
            timestamp: t0.toISOString(),
            device: "mobile",
          },
        ],
      },
      { key },
    );
    const first = await server.call(key, "POST", "/api/journeys/grant/snapshots");
    expect(first.status).toBe(201);
    const snap1 = (await first.json()) as {
      id: string;
      createdAt: string;
      configuration: { displayName: string; steps: unknown[] };
      analytics: { healthMetrics: { sessionCount: number }; behaviorMetrics: { mobileRate: number } };
    };
    expect(snap1.id).toMatch(/^snap_[A-Za-z0-9]+$/);
    expect(snap1.createdAt).toBe(t0.toISOString());
    expect(snap1.configuration.displayName).toBe("grant");
    expect(snap1.configuration.steps).toHaveLength(2);
    expect(snap1.analytics.healthMetrics.sessionCount).toBe(1);
    expect(snap1.analytics.behaviorMetrics.mobileRate).toBe(1);

    let body = await retrieve();
    expect(body.healthMetrics.hasSnapshot).toBe(true);
    expect(body.lastArtifactCreated).toEqual({ id: snap1.id, createdAt: t0.toISOString() });

    // Later changes do not touch the frozen copy.
    expect((await server.call(key, "PUT", "/api/journeys/grant", { displayName: "Renamed" })).status).toBe(
      200,
    );
    const t1 = new Date(t0.getTime() + 60_000);
    server.setNow(t1);
    const second = await server.call(key, "POST", "/api/journeys/grant/snapshots");
    expect(second.status).toBe(201);
    const snap2 = (await second.json()) as { id: string; configuration: { displayName: string } };
    expect(snap2.configuration.displayName).toBe("Renamed");

    body = await retrieve();
    expect(body.lastArtifactCreated).toEqual({ id: snap2.id, createdAt: t1.toISOString() });
    const list = (await (await server.call(key, "GET", "/api/journeys/grant/snapshots")).json()) as {
      data: { id: string; configuration: { displayName: string } }[];
    };
    expect(list.data.map((s) => [s.id, s.configuration.displayName])).toEqual([
      [snap2.id, "Renamed"],
      [snap1.id, "grant"],
    ]);
    expect(list.data[1]).toEqual(snap1);
  });

  it("need journeys:write to create and journeys:read to list", async () => {
    const reader = await server.key("snapshots", ["journeys:read"]);
    const writer = await server.key("snapshots", ["journeys:write"]);
    const denied = await server.call(reader, "POST", "/api/journeys/grant/snapshots");
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ error: "API key does not have required scope: journeys:write" });
    expect((await server.call(reader, "GET", "/api/journeys/grant/snapshots")).status).toBe(200);
    const cannotList = await server.call(writer, "GET", "/api/journeys/grant/snapshots");
    expect(cannotList.status).toBe(403);
    expect(await cannotList.json()).toEqual({ error: "API key does not have required scope: journeys:read" });
  });

  it("answer 404 for another organization's journey, and create nothing", async () => {
    const other = await server.key("someone-else");
    for (const method of ["POST", "GET"]) {
      const res = await server.call(other, method, "/api/journeys/grant/snapshots");
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'Journey with slug "grant" not found' });
    }
    const list = (await (await server.call(key, "GET", "/api/journeys/grant/snapshots")).json()) as {
      data: unknown[];
    };
    expect(list.data).toHaveLength(2);
  });

  it("are the tRPC procedures journeys.snapshots.create and list", async () => {
    const res = await fetch(`${server.url}/trpc/journeys.snapshots.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { slug: "grant" } }),
    });
    expect(res.status).toBe(200);
    const input = encodeURIComponent(JSON.stringify({ json: { slug: "grant" } }));
    const list = await fetch(`${server.url}/trpc/journeys.snapshots.list?input=${input}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const body = (await list.json()) as { result: { data: { json: { data: unknown[] } } } };
    expect(body.result.data.json.data).toHaveLength(3);
  });

  it("refuse a body that is sent but not JSON, and create nothing", async () => {
    const count = async () =>
      ((await (await server.call(key, "GET", "/api/journeys/grant/snapshots")).json()) as { data: unknown[] })
        .data.length;
    const before = await count();
    const malformed = await server.call(key, "POST", "/api/journeys/grant/snapshots", "{bad");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: "Malformed JSON in request body" });
    const xml = await fetch(`${server.url}/api/journeys/grant/snapshots`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "text/xml" },
      body: "<x/>",
    });
    expect(xml.status).toBe(415);
    expect(await count()).toBe(before);
    // Without the route's scope, the key's answer comes first.
    const reader = await server.key("snapshots", ["journeys:read"]);
    const forbidden = await server.call(reader, "POST", "/api/journeys/grant/snapshots", "{bad");
    expect(forbidden.status).toBe(403);
    // A JSON body is accepted and ignored.
    const withBody = await server.call(key, "POST", "/api/journeys/grant/snapshots", { note: "ignored" });
    expect(withBody.status).toBe(201);
    expect(await count()).toBe(before + 1);
  });

  it("are documented with every status", async () => {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const path = doc.paths["/api/journeys/{slug}/snapshots"];
    expect(Object.keys(path?.post?.responses ?? {}).sort()).toEqual(
      ["201", "400", "401", "403", "404", "413", "415", "429", "500", "503"].sort(),
    );
    expect(Object.keys(path?.get?.responses ?? {}).sort()).toEqual(
      ["200", "400", "401", "403", "404", "413", "429", "500", "503"].sort(),
    );
    const detail = JSON.stringify(doc.paths["/api/journeys/{slug}"]?.get?.responses["200"]);
    expect(detail).toContain("JourneyDetail");
    const schemas = (doc as unknown as { components: { schemas: Record<string, { properties: object }> } })
      .components.schemas;
    expect(Object.keys(schemas.JourneyDetail?.properties ?? {})).toEqual(
      expect.arrayContaining(["funnel", "timeToComplete", "unknownStepKeys", "sessionsInProgress"]),
    );
  });
});
