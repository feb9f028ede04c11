import { idempotencyKeys, queryRows } from "@odyssey/db";
import { testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server";

// Idempotency-Key on POST /api/journeys/create, with Stripe's semantics.

let server: TestServer;
let key: string;

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("idem");
});
afterAll(() => server.close());

const create = (idempotencyKey: string | undefined, body: unknown, path = "/api/journeys/create") =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const journeysWithSlug = async (slug: string) =>
  (
    await queryRows<{ n: number }>(
      server.database.db,
      sql`select count(*)::int as n from journeys where slug = ${slug}`,
    )
  )[0]?.n;

describe("Idempotency-Key", () => {
  it("replays the first answer to a retry with the same key and body, and does the work once", async () => {
    const body = { slug: "idem-once", displayName: "Once", steps: [{ stepKey: "a", index: 0 }] };
    const first = await create("key-once", body);
    expect(first.status).toBe(201);
    const firstBody = await first.text();
    // The same request with its fields in another order is the same request, and its answer is
    // the first one byte for byte (members in the order first sent).
    const reordered = { steps: [{ index: 0, stepKey: "a" }], displayName: "Once", slug: "idem-once" };
    for (const retry of [body, reordered]) {
      const again = await create("key-once", retry);
      expect(again.status).toBe(201);
      expect(await again.text()).toBe(firstBody);
    }
    expect(await journeysWithSlug("idem-once")).toBe(1);
  });

  it("answers 422 {error} to the same key with another body, and changes nothing", async () => {
    expect((await create("key-other", { slug: "idem-a", displayName: "A" })).status).toBe(201);
    const reuse = await create("key-other", { slug: "idem-b", displayName: "B" });
    expect(reuse.status).toBe(422);
    expect(await reuse.json()).toEqual({ error: expect.stringMatching(/different request/) });
    expect(await journeysWithSlug("idem-b")).toBe(0);
  });

  it("replays a refusal too: the first answer stands even after its cause is gone", async () => {
    expect((await create(undefined, { slug: "idem-taken", displayName: "Taken" })).status).toBe(201);
    const refused = await create("key-refused", { slug: "idem-taken", displayName: "Mine" });
    expect(refused.status).toBe(409);
    const message = await refused.json();
    await fetch(`${server.url}/api/journeys/idem-taken`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${key}` },
    });
    const retry = await create("key-refused", { slug: "idem-taken", displayName: "Mine" });
    expect(retry.status).toBe(409);
    expect(await retry.json()).toEqual(message);
  });

  it("answers 409 while the first request holds the key, and frees a key whose request died", async () => {
    const body = { slug: "idem-flight", displayName: "Flight" };
    const first = await create("key-flight", body);
    expect(first.status).toBe(201);
    // As if another process had claimed the key and were still working.
    const where = sql`${idempotencyKeys.key} = 'key-flight'`;
    await server.database.db
      .update(idempotencyKeys)
      .set({ state: "in_flight", response: null, leaseUntil: sql`now() + interval '1 minute'` })
      .where(where);
    const during = await create("key-flight", body);
    expect(during.status).toBe(409);
    expect(await during.json()).toEqual({ error: expect.stringMatching(/still in progress/) });
    // That process died: once its lease has run out, a retry does the work.
    await server.database.db
      .update(idempotencyKeys)
      .set({ leaseUntil: sql`now() - interval '1 second'` })
      .where(where);
    await fetch(`${server.url}/api/journeys/idem-flight`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${key}` },
    });
    const retry = await create("key-flight", body);
    expect(retry.status).toBe(201);
    expect(await journeysWithSlug("idem-flight")).toBe(1);
  });

  it("holds over tRPC as over REST (one key space per organization)", async () => {
    const body = { slug: "idem-trpc", displayName: "T" };
    const rest = await create("key-shared", body);
    expect(rest.status).toBe(201);
    const trpc = await create("key-shared", { json: body }, "/trpc/journeys.create");
    expect(trpc.status).toBe(200);
    const restBody = (await rest.json()) as { id: string };
    expect(((await trpc.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id).toBe(
      restBody.id,
    );
  });

  it("keeps keys apart per organization", async () => {
    const otherKey = await server.key("idem-other-org");
    const body = { slug: "idem-org", displayName: "Org" };
    expect((await create("key-org", body)).status).toBe(201);
    const other = await fetch(`${server.url}/api/journeys/create`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${otherKey}`,
        "content-type": "application/json",
        "idempotency-key": "key-org",
      },
      body: JSON.stringify(body),
    });
    expect(other.status).toBe(201);
    expect(await journeysWithSlug("idem-org")).toBe(2);
  });

  it("forgets an organization's keys past their 24 hours as new ones come, and no other's", async () => {
    const otherKey = await server.key("idem-forget-other");
    for (const [caller, name] of [
      [key, "old-mine"],
      [otherKey, "old-theirs"],
      [key, "recent-mine"],
    ] as const) {
      const made = await fetch(`${server.url}/api/journeys/create`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${caller}`,
          "content-type": "application/json",
          "idempotency-key": name,
        },
        body: JSON.stringify({ slug: `idem-${name}`, displayName: name }),
      });
      expect(made.status).toBe(201);
    }
    await server.database.db
      .update(idempotencyKeys)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(sql`${idempotencyKeys.key} in ('old-mine', 'old-theirs')`);
    const kept = async () =>
      (
        await queryRows<{ key: string }>(
          server.database.db,
          sql`select key from idempotency_keys where key in ('old-mine', 'old-theirs', 'recent-mine', 'new-mine') order by key`,
        )
      ).map((row) => row.key);
    expect(await kept()).toEqual(["old-mine", "old-theirs", "recent-mine"]);
    expect((await create("new-mine", { slug: "idem-new-mine", displayName: "New" })).status).toBe(201);
    expect(await kept()).toEqual(["new-mine", "old-theirs", "recent-mine"]);
  });

  it("answers 400 to a key that is not 1–255 printable characters", async () => {
    for (const bad of ["has space", "x".repeat(256)]) {
      const res = await create(bad, { slug: "idem-bad", displayName: "Bad" });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: expect.stringMatching(/Idempotency-Key/) });
    }
    expect(await journeysWithSlug("idem-bad")).toBe(0);
  });

  it.skipIf(testEngine() !== "postgres")(
    "answers 409 to a retry while the first request is really still running",
    async () => {
      // A transaction of the test's own holds the slug, so the first request waits on it.
      const blocker = postgres(server.database.url ?? "", { max: 2, onnotice: () => {} });
      try {
        const [org] = await blocker<{ org_id: string }[]>`select org_id from api_keys limit 1`;
        const reserved = await blocker.reserve();
        await reserved`begin`;
        await reserved`insert into journeys (org_id, id, slug, display_name, source_system, environment)
                       values (${org?.org_id ?? ""}, 'journey_blocker', 'idem-race', 'Blocker', 'custom', 'production')`;
        const body = { slug: "idem-race", displayName: "Race" };
        const first = create("key-race", body);
        // Wait until the first request has claimed the key.
        for (let i = 0; i < 100; i++) {
          const [row] = await blocker`select state from idempotency_keys where key = 'key-race'`;
          if (row) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const second = await create("key-race", body);
        expect(second.status).toBe(409);
        expect(await second.json()).toEqual({ error: expect.stringMatching(/still in progress/) });
        await reserved`rollback`;
        reserved.release();
        const firstAnswer = await first;
        expect(firstAnswer.status).toBe(201);
        const third = await create("key-race", body);
        expect(await third.json()).toEqual(await firstAnswer.json());
      } finally {
        await blocker.end();
      }
    },
  );
});
