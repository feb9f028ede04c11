import { testEngine } from "@odyssey/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseAdmin, databaseAdmin } from "./support/database-admin";
import { createJourney } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// Postgres ends a session (an administrator's pg_terminate_backend, a pooler, a timeout) while the
// pool still holds it as idle: the reads that reach that session before the pool has noticed are
// lost with it. A read runs again, after a short pause, on another session; a write does not (it
// may have been committed before its answer was lost).

describe.skipIf(testEngine() !== "postgres")("a read that meets a session Postgres has just ended", () => {
  let server: TestServer;
  let key: string;
  let admin: DatabaseAdmin;

  beforeAll(async () => {
    server = await startTestServer();
    key = await server.key("sessions");
    admin = databaseAdmin(server);
    await createJourney(server, key, "kept", { steps: 1 });
  }, 60_000);

  afterAll(async () => {
    await admin?.end();
    await server?.close();
  });

  const reads = () => [
    ...Array.from({ length: 6 }, () => server.call(key, "GET", "/api/journeys/kept")),
    ...Array.from({ length: 6 }, () => server.call(key, "GET", "/api/journeys?limit=5")),
    ...Array.from({ length: 6 }, () =>
      server.call(
        key,
        "GET",
        `/trpc/journeys.get?input=${encodeURIComponent(JSON.stringify({ json: { slug: "kept" } }))}`,
      ),
    ),
  ];

  it("is answered from a new session, not with a 503", async () => {
    for (let round = 0; round < 5; round++) {
      // Every session of the pool open and idle.
      expect((await Promise.all(reads())).map((res) => res.status)).toEqual(Array(18).fill(200));
      await admin.endPoolSessions();
      const answers = await Promise.all(
        reads().map(async (res) => {
          const answer = await res;
          return { status: answer.status, body: await answer.json() };
        }),
      );
      expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    }
  });
});
