import { randomUUID } from "node:crypto";
import { testEngine, withTableLocked } from "@odyssey/db/testing";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseAdmin, databaseAdmin } from "./support/database-admin";
import { startTestServer, type TestServer } from "./support/server";

// What the database's own settings do to the service. A database that answers but cannot complete
// a request now: it takes no writes (a standby after a failover, or read-only for maintenance),
// or gives up on a statement (statement_timeout, lock_timeout). Each is answered 503 with
// Retry-After, as a lost connection is, never 500: the caller may send the request again later.
// Defaults a database may set that would change answers (DateStyle, isolation, float digits)
// change nothing. (Postgres only: the settings are the server's.)

const busy = { error: "The database cannot complete this request at the moment; retry shortly" };

describe.skipIf(testEngine() !== "postgres")("A database's own settings", () => {
  let server: TestServer;
  let key: string;
  let admin: DatabaseAdmin;

  beforeAll(async () => {
    server = await startTestServer();
    key = await server.key("acme");
    admin = databaseAdmin(server);
    const created = await server.call(key, "POST", "/api/journeys/create", {
      slug: "existing",
      displayName: "Existing",
      steps: [{ stepKey: "start", index: 0 }],
    });
    expect(created.status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await admin?.end();
    await server?.close();
  });

  /**
   * Sets `setting` on the test database for new sessions, ends the pool's sessions (named
   * `odyssey`; a lock holder's stays) so that it opens new ones, and waits until the server is ready again; `reset` undoes it the same way.
   */
  async function withSetting(setting: string, value: string, work: () => Promise<void>) {
    const renew = async () => {
      await admin.endPoolSessions();
      for (let attempt = 0; attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if ((await fetch(`${server.url}/readyz`)).status === 200) return;
      }
      throw new Error("the server did not become ready again");
    };
    await admin.sql.unsafe(`alter database ${admin.name} set ${setting} = ${value}`);
    await renew();
    try {
      await work();
    } finally {
      await admin.sql.unsafe(`alter database ${admin.name} reset ${setting}`);
      await renew();
    }
  }

  const answer = async (res: Response) => ({
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    // biome-ignore lint/suspicious/noExplicitAny: assertions, not types, check the bodies here
    body: (await res.json()) as any,
  });

  it("answers writes 503 with Retry-After while it takes no writes, and still serves reads", async () => {
    await withSetting("default_transaction_read_only", "on", async () => {
      const create = await server.call(key, "POST", "/api/journeys/create", {
        slug: "later",
        displayName: "Later",
      });
      expect(await answer(create)).toEqual({ status: 503, retryAfter: "1", body: busy });

      const events = [
        { id: randomUUID(), type: "session_start", sessionId: "s1", timestamp: new Date().toISOString() },
      ];
      const batch = await server.call(key, "POST", "/api/events", { journey: "existing", events });
      expect(await answer(batch)).toEqual({ status: 503, retryAfter: "1", body: busy });

      const trpc = await fetch(`${server.url}/trpc/journeys.create`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(superjson.serialize({ slug: "later", displayName: "Later" })),
      });
      const refused = await answer(trpc);
      expect([refused.status, refused.retryAfter]).toEqual([503, "1"]);
      expect(refused.body.error.json).toMatchObject({
        message: busy.error,
        data: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 },
      });

      expect((await server.call(key, "GET", "/api/journeys/existing")).status).toBe(200);
    });
    // Sent again once the database takes writes, it succeeds.
    const again = await server.call(key, "POST", "/api/journeys/create", {
      slug: "later",
      displayName: "Later",
    });
    expect(again.status).toBe(201);
  });

  it("answers a statement given up on by lock_timeout or statement_timeout 503 with Retry-After", async () => {
    await withTableLocked(server.database.url ?? "", "journeys", async () => {
      await withSetting("lock_timeout", "'100ms'", async () => {
        const res = await server.call(key, "GET", "/api/journeys/existing");
        expect(await answer(res)).toEqual({ status: 503, retryAfter: "1", body: busy });
      });
      await withSetting("statement_timeout", "'100ms'", async () => {
        const res = await server.call(key, "GET", "/api/journeys");
        expect(await answer(res)).toEqual({ status: 503, retryAfter: "1", body: busy });
      });
    });
    expect((await server.call(key, "GET", "/api/journeys/existing")).status).toBe(200);
  });

  it("change no answer when they set other defaults for dates, isolation and floats", async () => {
    const before = await (await server.call(key, "GET", "/api/journeys/existing")).json();
    await withSetting("datestyle", "'SQL, DMY'", () =>
      withSetting("default_transaction_isolation", "serializable", () =>
        withSetting("extra_float_digits", "-3", async () => {
          expect(await (await server.call(key, "GET", "/api/journeys/existing")).json()).toEqual(before);
          // Concurrent batches of the same sessions update the same summary rows.
          const sends = Array.from({ length: 12 }, (_, batch) => {
            const events = Array.from({ length: 40 }, (_, i) => ({
              id: randomUUID(),
              type: i % 4 ? "field_focus" : "step_view",
              stepKey: "start",
              field: "name",
              sessionId: `shared-${i % 8}`,
              timestamp: new Date(Date.now() - (batch * 40 + i) * 1000).toISOString(),
            }));
            return server.call(key, "POST", "/api/events", { journey: "existing", events });
          });
          const answers = await Promise.all(sends);
          expect(answers.map((res) => res.status)).toEqual(Array(12).fill(200));
          const after = await (await server.call(key, "GET", "/api/journeys/existing")).json();
          expect(after.createdAt).toBe(before.createdAt);
          const counted = (answer: typeof before) =>
            answer.eventCountsLast24h.field_focus + answer.eventCountsLast24h.step_view;
          expect(counted(after) - counted(before)).toBe(12 * 40);
        }),
      ),
    );
  });
});
