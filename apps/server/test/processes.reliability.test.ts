import { randomUUID } from "node:crypto";
import { queryRows } from "@odyssey/db";
import { createTestDatabase, type TestDatabase, testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "./support/built-server";
import { eventsCountedInHours } from "./support/events";
import { StatusTally, writeFigures } from "./support/figures";

// Two processes of the built server on one Postgres, with load spread over both. (The embedded
// database belongs to one process by design: a second one on its folder is refused.)

const tally = new StatusTally();
let database: TestDatabase;
let servers: ServerProcess[] = [];
let key: string;
const eventFigures = { eventsSent: 0, eventsStored: 0, eventsCounted: 0 };

const call = async (
  server: ServerProcess,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  tally.add(res.status);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe.skipIf(testEngine() !== "postgres")("two server processes on one database", () => {
  beforeAll(async () => {
    database = await createTestDatabase({ maxConnections: 1 });
    // One after the other, so the first creates the organization and prints its key.
    const first = await startServerProcess({ DATABASE_URL: database.url ?? "", DATABASE_POOL_SIZE: "4" });
    servers.push(first);
    servers.push(await startServerProcess({ DATABASE_URL: database.url ?? "", DATABASE_POOL_SIZE: "4" }));
    key = first.firstKey ?? "";
  });
  afterAll(async () => {
    for (const server of servers) server.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.exited));
    servers = [];
    await database?.close();
  });

  it("create each slug once: one 201 per slug, 409 for every other attempt, one row per slug", async () => {
    const slugs = Array.from({ length: 10 }, (_, i) => `shared-${i}`);
    const attempts = slugs.flatMap((slug) =>
      [0, 1, 2, 3].map((n) =>
        call(servers[n % 2] as ServerProcess, "POST", "/api/journeys/create", {
          slug,
          displayName: `${slug} ${n}`,
        }),
      ),
    );
    const answers = await Promise.all(attempts);
    for (const [i, slug] of slugs.entries()) {
      const mine = answers.slice(i * 4, i * 4 + 4).map((a) => a.status);
      expect(mine.filter((s) => s === 201)).toHaveLength(1);
      expect(mine.filter((s) => s === 409)).toHaveLength(3);
      const rows = await queryRows<{ n: number }>(
        database.db,
        sql`select count(*)::int as n from journeys where slug = ${slug}`,
      );
      expect(rows[0]?.n).toBe(1);
    }
  });

  it("lose no update: writers of different fields through both processes all keep their last write", async () => {
    expect(
      (
        await call(servers[0] as ServerProcess, "POST", "/api/journeys/create", {
          slug: "contended",
          displayName: "C",
        })
      ).status,
    ).toBe(201);
    const writes: Record<string, (n: number) => unknown> = {
      displayName: (n) => `Name ${n}`,
      environment: (n) => (n % 2 ? "staging" : "production"),
      sourceSystem: (n) => ["simpliGov", "custom", "unknown"][n % 3],
      allowedOrigins: (n) => [`https://site-${n}.example.com`],
    };
    const last: Record<string, unknown> = {};
    await Promise.all(
      Object.entries(writes).map(async ([field, value], w) => {
        for (let n = 0; n < 25; n++) {
          const answer = await call(servers[(n + w) % 2] as ServerProcess, "PUT", "/api/journeys/contended", {
            [field]: value(n),
          });
          expect(answer.status).toBe(200);
          last[field] = value(n);
        }
      }),
    );
    const final = await call(servers[1] as ServerProcess, "GET", "/api/journeys/contended");
    expect(final.body).toMatchObject(last);
  });

  it("count each event once when the same batches reach both processes at once", async () => {
    const created = await call(servers[0] as ServerProcess, "POST", "/api/journeys/create", {
      slug: "events-twice",
      displayName: "Events",
      steps: [{ stepKey: "s0", index: 0 }],
    });
    expect(created.status).toBe(201);
    const batches = Array.from({ length: 8 }, (_, b) => ({
      journey: "events-twice",
      events: Array.from({ length: 25 }, (_, i) => ({
        id: randomUUID(),
        type: i === 0 ? "session_start" : "step_view",
        sessionId: `session-${b}`,
        stepKey: "s0",
        timestamp: new Date(Date.now() - 60_000 + i).toISOString(),
      })),
    }));
    // Each batch goes to both processes at the same moment, twice.
    const answers = await Promise.all(
      batches.flatMap((batch) =>
        [0, 1, 0, 1].map((n) => call(servers[n] as ServerProcess, "POST", "/api/events", batch)),
      ),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const total = batches.length * 25;
    expect(answers.reduce((n, a) => n + Number(a.body.accepted) - Number(a.body.duplicates), 0)).toBe(total);
    const [stored] = await queryRows<{ events: number; counted: number; sessions: number }>(
      database.db,
      sql`select (select count(*)::int from events) as events,
                 ${eventsCountedInHours} as counted,
                 (select count(*)::int from event_sessions) as sessions`,
    );
    expect(stored).toEqual({ events: total, counted: total, sessions: batches.length });
    Object.assign(eventFigures, {
      eventsSent: total * 4,
      eventsStored: stored?.events,
      eventsCounted: stored?.counted,
    });
    const retrieved = await call(servers[1] as ServerProcess, "GET", "/api/journeys/events-twice");
    const counts = retrieved.body.eventCountsLast24h as Record<string, number>;
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(total);
    expect((retrieved.body.healthMetrics as { sessionCount: number }).sessionCount).toBe(batches.length);
  });

  it("honour one Idempotency-Key across both processes: the work is done once", async () => {
    const body = { slug: "idem-across", displayName: "Across" };
    const answers = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((n) =>
        call(servers[n % 2] as ServerProcess, "POST", "/api/journeys/create", body, {
          "idempotency-key": "across-1",
        }),
      ),
    );
    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThan(0);
    expect(new Set(created.map((a) => a.body.id)).size).toBe(1);
    expect(answers.every((a) => a.status === 201 || a.status === 409)).toBe(true);
    const replay = await call(servers[1] as ServerProcess, "POST", "/api/journeys/create", body, {
      "idempotency-key": "across-1",
    });
    expect(replay.body.id).toBe(created[0]?.body.id);
    const rows = await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from journeys where slug = 'idem-across'`,
    );
    expect(rows[0]?.n).toBe(1);
    writeFigures("processes", {
      processes: servers.length,
      requestsSent: tally.total,
      answersByStatus: tally.counts,
      ...eventFigures,
    });
  });
});
