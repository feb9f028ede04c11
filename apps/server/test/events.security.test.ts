import { createApiKey, revokeApiKey } from "@odyssey/api";
import { queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, postEvents, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// Who may send events, from where, and what a publishable key may not do.

let server: TestServer;
let key: string;
let publishable: string;
let otherKey: string;
let restrictedJourneyId: string;

const event = (sessionId = "s") => ({
  id: uuid(),
  type: "session_start",
  sessionId,
  timestamp: new Date().toISOString(),
});

async function eventCount(sessionId: string) {
  const rows = await queryRows<{ n: number }>(
    server.database.db,
    sql`select count(*)::int as n from events where session_id = ${sessionId}`,
  );
  return rows[0]?.n ?? -1;
}

async function errorOf(res: Response) {
  const body = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error).toBe("string");
  return body.error;
}

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("events-security");
  publishable = (await createApiKey(server.database.db, { orgSlug: "events-security", kind: "publishable" }))
    .key;
  otherKey = await server.key("someone-else");
  await createJourney(server, key, "open", { allowedOrigins: [] });
  restrictedJourneyId = (
    await createJourney(server, key, "restricted", { allowedOrigins: ["https://forms.example.com"] })
  ).id;
});
afterAll(() => server.close());

describe("authentication", () => {
  it("answers 401 without a key, with a malformed header, or with an unknown key", async () => {
    const noKey = await postEvents(server, { journey: "open", events: [event("auth")] });
    expect(noKey.status).toBe(401);
    expect(await errorOf(noKey)).toBe(
      'Missing API key: send it as Authorization: Bearer <key>, or a publishable key (ody_pk_…) as "key" in the body',
    );
    const malformed = await postEvents(
      server,
      { journey: "open", events: [event("auth")] },
      { headers: { authorization: "Basic abc" } },
    );
    expect(malformed.status).toBe(401);
    await errorOf(malformed);
    const unknown = await postEvents(server, {
      journey: "open",
      key: "ody_pk_unknown",
      events: [event("auth")],
    });
    expect(unknown.status).toBe(401);
    expect(await errorOf(unknown)).toBe("Invalid API key");
    expect(await eventCount("auth")).toBe(0);
  });

  it("answers a body key that is no key as an unknown key, not as a secret one", async () => {
    for (const bodyKey of ["hello", "ody_xx_abc", ""]) {
      const res = await postEvents(server, { journey: "open", key: bodyKey, events: [event("no-key")] });
      expect(res.status, bodyKey).toBe(401);
      expect(await errorOf(res), bodyKey).toBe("Invalid API key");
    }
    expect(await eventCount("no-key")).toBe(0);
  });

  it("answers a body key that is not a string as invalid input naming key", async () => {
    for (const bodyKey of [5, true, { key: publishable }, [publishable]]) {
      const res = await postEvents(server, { journey: "open", key: bodyKey, events: [event("key-type")] });
      expect(res.status, JSON.stringify(bodyKey)).toBe(400);
      expect(await errorOf(res)).toBe("Invalid event data: key must be a string");
    }
    expect(await eventCount("key-type")).toBe(0);
  });

  it("answers a body key past the document's bounds as invalid input naming key", async () => {
    const cases = [
      [`${publishable}${"x".repeat(201 - publishable.length)}`, "key must be at most 200 characters"],
      [`ody_pk_\u0000`, "key must not contain NUL characters"],
    ] as const;
    for (const [bodyKey, reason] of cases) {
      const res = await postEvents(server, { journey: "open", key: bodyKey, events: [event("key-bound")] });
      expect(res.status, reason).toBe(400);
      expect(await errorOf(res)).toBe(`Invalid event data: ${reason}`);
    }
    // At the bound it is judged as a key: this one is no key.
    const atBound = `ody_pk_${"x".repeat(193)}`;
    const res = await postEvents(server, { journey: "open", key: atBound, events: [event("key-bound")] });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toBe("Invalid API key");
    expect(await eventCount("key-bound")).toBe(0);
  });

  it("answers 403 for a secret key without events:write", async () => {
    const readOnly = await server.key("events-security", ["journeys:read"]);
    const res = await postEvents(server, { journey: "open", events: [event("scope")] }, { key: readOnly });
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toBe("API key does not have required scope: events:write");
    expect(await eventCount("scope")).toBe(0);
  });

  it("accepts a publishable key in the body, as a beacon sends it", async () => {
    const res = await postEvents(
      server,
      { journey: "open", key: publishable, events: [event("beacon")] },
      { headers: { "content-type": "text/plain;charset=UTF-8" } },
    );
    expect(res.status).toBe(200);
    expect(await eventCount("beacon")).toBe(1);
  });

  it("refuses a secret key in the body, where it would be exposed", async () => {
    const res = await postEvents(server, { journey: "open", key, events: [event("secret-in-body")] });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatch(/^Only publishable keys/);
    expect(await eventCount("secret-in-body")).toBe(0);
  });

  it("refuses a secret key in the body even beside a header key, and uses the header's key over a body's", async () => {
    const both = await postEvents(
      server,
      { journey: "open", key, events: [event("secret-beside-header")] },
      { key },
    );
    expect(both.status).toBe(401);
    expect(await errorOf(both)).toMatch(/^Only publishable keys/);
    expect(await eventCount("secret-beside-header")).toBe(0);
    const readOnly = await server.key("events-security", ["journeys:read"]);
    const headerWins = await postEvents(
      server,
      { journey: "open", key: publishable, events: [event("header-wins")] },
      { key: readOnly },
    );
    expect(headerWins.status).toBe(403);
    expect(await eventCount("header-wins")).toBe(0);
  });

  it("judges a header key before the body: 401 or 403 rather than the body's 400 or 415", async () => {
    const readOnly = await server.key("events-security", ["journeys:read"]);
    const bodies: [string, Record<string, string>][] = [
      ["{not json", { "content-type": "application/json" }],
      ["a=b", { "content-type": "application/x-www-form-urlencoded" }],
      [`{"journey":"open","deep":${"[".repeat(40)}${"]".repeat(40)},"events":[]}`, {}],
    ];
    for (const [body, headers] of bodies) {
      const forbidden = await postEvents(server, body, { key: readOnly, headers });
      expect(forbidden.status, body).toBe(403);
      expect(await errorOf(forbidden)).toBe("API key does not have required scope: events:write");
      const unknown = await postEvents(server, body, { key: "ody_sk_notakeyatall", headers });
      expect(unknown.status, body).toBe(401);
      expect(await errorOf(unknown)).toBe("Invalid API key");
      const valid = await postEvents(server, body, { key, headers });
      expect(valid.status, body).toBeGreaterThanOrEqual(400);
      expect([400, 415], body).toContain(valid.status);
    }
    // Without a header the key may be in the body, which cannot be read: the body's answer stands.
    const noHeader = await postEvents(server, "{not json");
    expect(noHeader.status).toBe(400);
    expect(await errorOf(noHeader)).toBe("Invalid event data: the body is not valid JSON");
  });

  it("refuses a revoked publishable key", async () => {
    const created = await createApiKey(server.database.db, {
      orgSlug: "events-security",
      kind: "publishable",
    });
    await revokeApiKey(server.database.db, created.id);
    const res = await postEvents(server, { journey: "open", key: created.key, events: [event("revoked")] });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toBe("API key has been revoked");
  });

  it("treats another organization's journey as not found, and writes nothing to it", async () => {
    const before = await queryRows<{ n: number }>(
      server.database.db,
      sql`select (select count(*) from events where journey_id = ${restrictedJourneyId})
        + (select count(*) from event_sessions where journey_id = ${restrictedJourneyId})::int as n`,
    );
    const res = await postEvents(
      server,
      { journey: "restricted", events: [event("cross-org")] },
      { key: otherKey },
    );
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toBe('Journey with slug "restricted" not found');
    const after = await queryRows<{ n: number }>(
      server.database.db,
      sql`select (select count(*) from events where journey_id = ${restrictedJourneyId})
        + (select count(*) from event_sessions where journey_id = ${restrictedJourneyId})::int as n`,
    );
    expect(Number(after[0]?.n)).toBe(Number(before[0]?.n));
    expect(await eventCount("cross-org")).toBe(0);
  });
});

// A sender's key and journey are remembered after its first batch, so later batches cost one
// round trip; each later batch's own statement re-checks them. These change them between batches.
describe("what changes between two batches of one sender takes effect on the second", () => {
  it("refuses a key revoked after it sent a batch, and stores nothing", async () => {
    const created = await createApiKey(server.database.db, {
      orgSlug: "events-security",
      kind: "publishable",
    });
    const first = await postEvents(server, {
      journey: "open",
      key: created.key,
      events: [event("later-revoked")],
    });
    expect(first.status).toBe(200);
    await revokeApiKey(server.database.db, created.id);
    const second = await postEvents(server, {
      journey: "open",
      key: created.key,
      events: [event("later-revoked")],
    });
    expect(second.status).toBe(401);
    expect(await errorOf(second)).toBe("API key has been revoked");
    expect(await eventCount("later-revoked")).toBe(1);
  });

  it("refuses a revoked key even when every event of its batch is invalid", async () => {
    const created = await createApiKey(server.database.db, {
      orgSlug: "events-security",
      kind: "publishable",
    });
    expect(
      (await postEvents(server, { journey: "open", key: created.key, events: [event("revoked-empty")] }))
        .status,
    ).toBe(200);
    await revokeApiKey(server.database.db, created.id);
    const res = await postEvents(server, {
      journey: "open",
      key: created.key,
      events: [{ id: "not-a-uuid" }],
    });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toBe("API key has been revoked");
  });

  it("follows a change to the allowed origins, both ways", async () => {
    await createJourney(server, key, "moving-origins", { allowedOrigins: ["https://a.example.com"] });
    const from = (origin: string, sessionId: string) =>
      postEvents(
        server,
        { journey: "moving-origins", key: publishable, events: [event(sessionId)] },
        { headers: { origin } },
      );
    expect((await from("https://a.example.com", "origins-before")).status).toBe(200);
    const update = await server.call(key, "PUT", "/api/journeys/moving-origins", {
      allowedOrigins: ["https://b.example.com"],
    });
    expect(update.status).toBe(200);
    const refused = await from("https://a.example.com", "origins-refused");
    expect(refused.status).toBe(403);
    expect(await eventCount("origins-refused")).toBe(0);
    const allowed = await from("https://b.example.com", "origins-allowed");
    expect(allowed.status).toBe(200);
    expect(await eventCount("origins-allowed")).toBe(1);
  });

  it("sends the batch to a journey deleted and created again under the same slug, not to the old one", async () => {
    const before = await createJourney(server, key, "reborn");
    expect(
      (await postEvents(server, { journey: "reborn", key: publishable, events: [event("reborn-1")] })).status,
    ).toBe(200);
    expect((await server.call(key, "DELETE", "/api/journeys/reborn")).status).toBe(200);
    const after = await createJourney(server, key, "reborn");
    expect(after.id).not.toBe(before.id);
    const res = await postEvents(server, {
      journey: "reborn",
      key: publishable,
      events: [event("reborn-2")],
    });
    expect(res.status).toBe(200);
    const rows = await queryRows<{ journeyId: string }>(
      server.database.db,
      sql`select journey_id as "journeyId" from events where session_id = 'reborn-2'`,
    );
    expect(rows).toEqual([{ journeyId: after.id }]);
  });

  it("answers 404 for a journey deleted after a batch was sent to it", async () => {
    await createJourney(server, key, "short-lived");
    const first = await postEvents(server, {
      journey: "short-lived",
      key: publishable,
      events: [event("short-1")],
    });
    expect(first.status).toBe(200);
    expect((await server.call(key, "DELETE", "/api/journeys/short-lived")).status).toBe(200);
    const res = await postEvents(server, {
      journey: "short-lived",
      key: publishable,
      events: [event("short-2")],
    });
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toBe('Journey with slug "short-lived" not found');
    expect(await eventCount("short-2")).toBe(0);
  });
});

describe("a publishable key reads nothing", () => {
  const routes: [string, string, unknown?][] = [
    ["GET", "/api/journeys/open"],
    ["GET", "/api/journeys"],
    ["POST", "/api/journeys/create", { slug: "nope", displayName: "Nope" }],
    ["PUT", "/api/journeys/open", { displayName: "Renamed" }],
    ["DELETE", "/api/journeys/open"],
    ["GET", "/api/journeys/open/snapshots"],
    ["POST", "/api/journeys/open/snapshots"],
  ];
  for (const [method, path, body] of routes)
    it(`answers 403 on ${method} ${path}`, async () => {
      const res = await server.call(publishable, method, path, body);
      expect(res.status).toBe(403);
      expect(await errorOf(res)).toMatch(/^API key does not have required scope: journeys:(read|write)$/);
    });

  it("answers FORBIDDEN on the tRPC procedure journeys.get", async () => {
    const input = encodeURIComponent(JSON.stringify({ json: { slug: "open" } }));
    const res = await fetch(`${server.url}/trpc/journeys.get?input=${input}`, {
      headers: { authorization: `Bearer ${publishable}` },
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { json: { message: string; data: { code: string } } } };
    expect(body.error.json.data.code).toBe("FORBIDDEN");
    expect(body.error.json.message).toBe("API key does not have required scope: journeys:read");
  });
});

describe("CORS on /api/events", () => {
  const send = (journey: string, origin: string, sessionId: string) =>
    postEvents(server, { journey, key: publishable, events: [event(sessionId)] }, { headers: { origin } });

  it("echoes an allowed origin", async () => {
    const res = await send("restricted", "https://forms.example.com", "cors-allowed");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://forms.example.com");
    expect(res.headers.get("vary")).toMatch(/Origin/);
    expect(await eventCount("cors-allowed")).toBe(1);
  });

  it("answers 403 without Access-Control-Allow-Origin to an origin not in the list, and stores nothing", async () => {
    const res = await send("restricted", "https://evil.example.net", "cors-denied");
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(await errorOf(res)).toBe(
      'Origin https://evil.example.net is not allowed to send events for journey "restricted"',
    );
    expect(await eventCount("cors-denied")).toBe(0);
  });

  it("enforces the list on the tRPC procedure as well", async () => {
    const res = await fetch(`${server.url}/trpc/events.ingest`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example.net" },
      body: JSON.stringify({
        json: { journey: "restricted", key: publishable, events: [event("cors-trpc")] },
      }),
    });
    expect(res.status).toBe(403);
    expect(await eventCount("cors-trpc")).toBe(0);
  });

  it("matches origins as origins: a trailing slash in the list does not matter", async () => {
    await createJourney(server, key, "slashed", { allowedOrigins: ["https://forms.example.com/"] });
    const res = await send("slashed", "https://forms.example.com", "cors-slashed");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://forms.example.com");
  });

  it("allows every origin when the list is empty", async () => {
    const res = await send("open", "https://anywhere.example.org", "cors-open");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://anywhere.example.org");
  });

  it("lets an allowed sender read a 200's RateLimit headers and request id, and gives a 429 no Access-Control-Allow-Origin", async () => {
    const limited = await startTestServer({
      RATE_LIMIT_INGEST_PER_SECOND: "0.1",
      RATE_LIMIT_INGEST_BURST: "2",
    });
    try {
      const owner = await limited.key("events-cors");
      const sender = (
        await createApiKey(limited.database.db, { orgSlug: "events-cors", kind: "publishable" })
      ).key;
      await createJourney(limited, owner, "limited", { allowedOrigins: ["https://forms.example.com"] });
      const sendFrom = (origin: string) =>
        postEvents(
          limited,
          { journey: "limited", key: sender, events: [event("cors-limited")] },
          { headers: { origin } },
        );
      // The publishable key rides in the body: the batches are counted by address, in a bucket of 2.
      const origins = [
        "https://forms.example.com",
        "https://forms.example.com",
        "https://forms.example.com",
        // Refused before the journey is read, so before its origins are.
        "https://evil.example.net",
      ];
      const answers = [];
      for (const origin of origins) answers.push(await sendFrom(origin));
      expect(answers.map((res) => res.status)).toEqual([200, 200, 429, 429]);
      const readable = [
        "ratelimit-limit",
        "ratelimit-policy",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
        "x-request-id",
      ];
      answers.forEach((res, i) => {
        if (res.status === 429) {
          expect(res.headers.get("access-control-allow-origin")).toBeNull();
          expect(res.headers.get("access-control-expose-headers")).toBeNull();
          return;
        }
        expect(res.headers.get("access-control-allow-origin")).toBe(origins[i]);
        const exposed = res.headers.get("access-control-expose-headers") ?? "";
        expect(exposed.toLowerCase().split(/,\s*/).sort()).toEqual(readable);
        // Each one exposed but Retry-After (a 429's and a 503's) is one a 200 carries.
        const sent = readable.filter((name) => res.headers.get(name) !== null);
        expect(sent).toEqual(readable.filter((name) => name !== "retry-after"));
      });
    } finally {
      await limited.close();
    }
  });

  it("answers a preflight from an allowed origin", async () => {
    const res = await fetch(`${server.url}/api/events`, {
      method: "OPTIONS",
      headers: {
        origin: "https://forms.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://forms.example.com");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")).toContain("content-type");
  });
});

describe("refusals of a batch, as a page reads them", () => {
  let own: TestServer;
  let sender: string;
  const allowed = "https://forms.example.com";
  beforeAll(async () => {
    own = await startTestServer();
    const owner = await own.key("refusals");
    sender = (await createApiKey(own.database.db, { orgSlug: "refusals", kind: "publishable" })).key;
    await createJourney(own, owner, "listed", { allowedOrigins: [allowed] });
  });
  afterAll(() => own.close());

  const batch = (events: unknown[], journey = "listed") => JSON.stringify({ journey, key: sender, events });
  const refusals = (): { name: string; status: number; type: string; body: string }[] => [
    { name: "malformed JSON", status: 400, type: "text/plain", body: "{" },
    {
      name: "unknown key",
      status: 401,
      type: "text/plain",
      body: batch([event()]).replace(sender, "ody_pk_unknown"),
    },
    { name: "unknown journey", status: 404, type: "text/plain", body: batch([event()], "no-such-journey") },
    {
      name: "too many events",
      status: 413,
      type: "text/plain",
      body: batch(Array.from({ length: 501 }, () => event())),
    },
    { name: "not JSON nor text", status: 415, type: "text/html", body: batch([event()]) },
  ];
  const sendFrom = (origin: string, refusal: { type: string; body: string }) =>
    fetch(`${own.url}/api/events`, {
      method: "POST",
      headers: { origin, "content-type": refusal.type },
      body: refusal.body,
    });

  it("lets an origin some journey allows read why, with the headers a 200 exposes", async () => {
    for (const refusal of refusals()) {
      const res = await sendFrom(allowed, refusal);
      expect(res.status, refusal.name).toBe(refusal.status);
      expect(res.headers.get("access-control-allow-origin"), refusal.name).toBe(allowed);
      expect(res.headers.get("access-control-expose-headers"), refusal.name).toMatch(/X-Request-Id/i);
      expect(await errorOf(res)).toEqual(expect.any(String));
    }
  });

  it("gives an origin no journey allows nothing to read, nor a 403 to any origin", async () => {
    for (const refusal of refusals()) {
      const res = await sendFrom("https://evil.example.net", refusal);
      expect(res.status, refusal.name).toBe(refusal.status);
      expect(res.headers.get("access-control-allow-origin"), refusal.name).toBeNull();
    }
    const scopeless = await own.key("refusals", ["journeys:read"]);
    const res = await postEvents(
      own,
      { journey: "listed", events: [event()] },
      {
        key: scopeless,
        headers: { origin: allowed },
      },
    );
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("CORS preflight on /api/events, which names no journey", () => {
  let listed: TestServer;
  beforeAll(async () => {
    listed = await startTestServer();
    const owner = await listed.key("preflight");
    await createJourney(listed, owner, "listed", { allowedOrigins: ["https://forms.example.com"] });
    await createJourney(listed, await listed.key("preflight-other"), "other", {
      allowedOrigins: ["https://apply.example.org:8443"],
    });
  });
  afterAll(() => listed.close());

  const preflight = (origin: string) =>
    fetch(`${listed.url}/api/events`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });

  it("is answered for the origins some journey allows, of any organization", async () => {
    for (const origin of [
      "https://forms.example.com",
      "https://FORMS.example.com",
      "https://apply.example.org:8443",
    ]) {
      const res = await preflight(origin);
      expect(res.status, origin).toBe(204);
      expect(res.headers.get("access-control-allow-origin"), origin).toBe(origin);
      expect(res.headers.get("vary")).toMatch(/Origin/);
      expect(res.headers.get("allow")).toBe("POST, OPTIONS");
    }
  });

  it("is not answered for an origin no journey allows, nor for one that is no origin", async () => {
    for (const origin of [
      "https://evil.example.net",
      "https://apply.example.org",
      "null",
      "https://forms.example.com/x",
    ]) {
      const res = await preflight(origin);
      expect(res.status, origin).toBe(204);
      expect(res.headers.get("access-control-allow-origin"), origin).toBeNull();
      expect(res.headers.get("access-control-allow-methods"), origin).toBeNull();
    }
  });

  it("is answered for every origin once a journey takes events from any", async () => {
    expect(
      (await preflight("https://anywhere.example.net")).headers.get("access-control-allow-origin"),
    ).toBeNull();
    await createJourney(listed, await listed.key("preflight"), "open-to-all", { allowedOrigins: [] });
    expect((await preflight("https://anywhere.example.net")).headers.get("access-control-allow-origin")).toBe(
      "https://anywhere.example.net",
    );
  });
});
