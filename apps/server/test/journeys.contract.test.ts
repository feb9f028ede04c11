import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server";

// Every request and response of the journeys API page, over HTTP.

const createBody = {
  slug: "small-business-grant",
  displayName: "Small Business Grant Application",
  sourceSystem: "custom",
  allowedOrigins: ["https://grants.example.com"],
  steps: [
    { stepKey: "eligibility", name: "Eligibility Check", stepType: "eligibility", index: 0, fieldCount: 5 },
    { stepKey: "business-info", name: "Business Information", stepType: "input", index: 1, fieldCount: 12 },
  ],
};

/** The fields of a journey answer the assertions read; the assertions check the rest. */
interface JourneyBody {
  id: string;
  orgId: string;
  displayName: string;
  steps: { id: string; stepKey: string }[];
  unmappedStepIds: string[];
  createdAt: string;
  updatedAt: string;
}

/** A tRPC query's `input` parameter (superjson). */
const trpcInput = (input: unknown) => encodeURIComponent(JSON.stringify({ json: input }));
/** The message of a tRPC error answer. */
const trpcMessage = async (res: Response) =>
  ((await res.json()) as { error: { json: { message: string } } }).error.json.message;

const isoDate = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

let server: TestServer;
let key: string;

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("contract");
});
afterAll(() => server.close());

describe("POST /api/journeys/create", () => {
  it("answers 201 with the journey and its steps, exactly as documented", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", createBody);
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as JourneyBody;
    expect(Object.keys(body).sort()).toEqual(
      [
        "id",
        "orgId",
        "slug",
        "displayName",
        "sourceSystem",
        "environment",
        "allowedOrigins",
        "steps",
        "createdAt",
        "updatedAt",
      ].sort(),
    );
    expect(body).toEqual({
      id: expect.stringMatching(/^journey_[A-Za-z0-9]+$/),
      orgId: expect.stringMatching(/^org_[A-Za-z0-9]+$/),
      slug: "small-business-grant",
      displayName: "Small Business Grant Application",
      sourceSystem: "custom",
      environment: "production",
      allowedOrigins: ["https://grants.example.com"],
      steps: [
        {
          id: expect.stringMatching(/^step_[A-Za-z0-9]+$/),
          journeyId: body.id,
          stepKey: "eligibility",
          name: "Eligibility Check",
          stepType: "eligibility",
          index: 0,
          fieldCount: 5,
          readingLevel: null,
          requiredArtifacts: [],
          createdAt: isoDate,
          updatedAt: isoDate,
        },
        {
          id: expect.stringMatching(/^step_[A-Za-z0-9]+$/),
          journeyId: body.id,
          stepKey: "business-info",
          name: "Business Information",
          stepType: "input",
          index: 1,
          fieldCount: 12,
          readingLevel: null,
          requiredArtifacts: [],
          createdAt: isoDate,
          updatedAt: isoDate,
        },
      ],
      createdAt: isoDate,
      updatedAt: isoDate,
    });
    expect(body.createdAt).toBe(body.updatedAt);
  });

  it("answers exactly what it stored: Retrieve gives the same journey back", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", {
      slug: "stored-as-answered",
      displayName: "  Stored as answered  ",
      environment: "staging",
      allowedOrigins: ["https://a.example.com", "https://b.example.com"],
      steps: [
        {
          stepKey: "last",
          index: 7,
          name: "Last",
          readingLevel: 8.25,
          requiredArtifacts: ["ein", "w-9, signed"],
        },
        { stepKey: "first", index: 2, stepType: "input", fieldCount: 0, requiredArtifacts: [] },
        { stepKey: 'quote"s and {braces}', index: 4, name: null },
      ],
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as JourneyBody;
    expect(created.steps.map((s) => s.stepKey)).toEqual(["first", 'quote"s and {braces}', "last"]);
    const stored = (await (
      await server.call(key, "GET", "/api/journeys/stored-as-answered")
    ).json()) as Record<string, unknown>;
    expect(Object.fromEntries(Object.keys(created).map((k) => [k, stored[k]]))).toEqual(created);
  });

  it("defaults sourceSystem to unknown, environment to production, origins and steps to empty", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", {
      slug: "minimal",
      displayName: "Minimal",
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      sourceSystem: "unknown",
      environment: "production",
      allowedOrigins: [],
      steps: [],
    });
  });

  it("keeps each allowed origin as browsers send it, once, and refuses anything past the port", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", {
      slug: "origins",
      displayName: "Origins",
      allowedOrigins: [
        "HTTPS://Grants.Example.COM",
        "https://grants.example.com:443/",
        "http://localhost:3000",
        "https://bücher.example",
        "http://apply.example.com:80",
      ],
    });
    expect(res.status).toBe(201);
    const stored = [
      "https://grants.example.com",
      "http://localhost:3000",
      "https://xn--bcher-kva.example",
      "http://apply.example.com",
    ];
    expect(((await res.json()) as { allowedOrigins: string[] }).allowedOrigins).toEqual(stored);
    const trpc = await fetch(`${server.url}/trpc/journeys.get?input=${trpcInput({ slug: "origins" })}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(
      ((await trpc.json()) as { result: { data: { json: { allowedOrigins: string[] } } } }).result.data.json
        .allowedOrigins,
    ).toEqual(stored);

    for (const origin of [
      "https://a.example/path",
      "https://a.example/?q=1",
      "https://a.example#top",
      "https://user@a.example",
      "ftp://a.example",
      "a.example",
    ]) {
      const refused = await server.call(key, "PUT", "/api/journeys/origins", { allowedOrigins: [origin] });
      expect(refused.status, origin).toBe(400);
      expect(await refused.json()).toEqual({
        error:
          "Invalid journey data: allowedOrigins[0] must be an origin URL such as https://app.example.com (scheme, host and optional port only)",
      });
    }
  });

  it("refuses an origin holding NUL or another control character, which URL parsing would drop unseen", async () => {
    const cases: [string, string][] = [
      ["https://a.example\u0000", "must not contain NUL characters"],
      ["\u0001https://a.example", "must not contain control characters (such as a tab or a line break)"],
      ["https://a.exa\nmple", "must not contain control characters (such as a tab or a line break)"],
      ["https://a.exa\tmple", "must not contain control characters (such as a tab or a line break)"],
    ];
    for (const [origin, reason] of cases) {
      const refused = await server.call(key, "PUT", "/api/journeys/origins", { allowedOrigins: [origin] });
      expect(refused.status, JSON.stringify(origin)).toBe(400);
      expect(await refused.json()).toEqual({ error: `Invalid journey data: allowedOrigins[0] ${reason}` });
    }
  });

  it("bounds an origin by its stored ASCII form, over REST and tRPC alike", async () => {
    // Under 2048 characters as sent, over 2048 once its labels are in punycode.
    const label = "漢字仮名交じり文あいうえおかきくけこ"; // 18 characters, 45 in ASCII form
    const longOrigin = `https://${Array.from({ length: 100 }, () => label).join(".")}.example`;
    expect(longOrigin.length).toBeLessThanOrEqual(2048);
    const message =
      "Invalid journey data: allowedOrigins[0] must be at most 2048 characters once its domain name is in ASCII (punycode) form";
    const rest = await server.call(key, "PUT", "/api/journeys/origins", { allowedOrigins: [longOrigin] });
    expect(rest.status).toBe(400);
    expect(await rest.json()).toEqual({ error: message });
    const trpc = await fetch(`${server.url}/trpc/journeys.update`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { slug: "origins", allowedOrigins: [longOrigin] } }),
    });
    expect(trpc.status).toBe(400);
    expect(await trpcMessage(trpc)).toBe(message);
    // Within the bound in ASCII form, it is stored as such either way.
    const shortOrigin = `https://${Array.from({ length: 30 }, () => label).join(".")}.example`;
    const stored = await server.call(key, "PUT", "/api/journeys/origins", { allowedOrigins: [shortOrigin] });
    expect(stored.status).toBe(200);
    const [ascii] = ((await stored.json()) as { allowedOrigins: string[] }).allowedOrigins;
    expect(ascii).toMatch(/^https:\/\/xn--/);
    expect(ascii?.length).toBeLessThanOrEqual(2048);
  });

  it("answers 409 with the documented text for a slug the organization already has", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", createBody);
    expect(res.status).toBe(409);
    expect(await res.text()).toBe(
      '{"error":"Journey with slug \\"small-business-grant\\" already exists in this organization"}',
    );
  });

  it("answers 400 with the documented text for an invalid slug", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", {
      ...createBody,
      slug: "Small Business",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "Invalid journey data: slug must contain only lowercase letters, numbers, and hyphens",
    });
  });

  it.each([
    [{ slug: "a" }, "Invalid journey data: displayName is required"],
    [{ displayName: "A" }, "Invalid journey data: slug is required"],
    [
      { slug: "a", displayName: "x".repeat(256) },
      "Invalid journey data: displayName must be at most 255 characters",
    ],
    [
      { slug: "a", displayName: "A", sourceSystem: "sap" },
      "Invalid journey data: sourceSystem must be one of: simpliGov, custom, unknown",
    ],
    [
      { slug: "a", displayName: "A", allowedOrigins: "https://x.example" },
      "Invalid journey data: allowedOrigins must be an array",
    ],
    [
      { slug: "a", displayName: "A", allowedOrigins: ["not a url"] },
      "Invalid journey data: allowedOrigins[0] must be an origin URL such as https://app.example.com (scheme, host and optional port only)",
    ],
    [
      { slug: "a", displayName: "A", steps: [{ index: 0 }] },
      "Invalid journey data: steps[0].stepKey is required",
    ],
    [
      { slug: "a", displayName: "A", steps: [{ stepKey: "s", index: -1 }] },
      "Invalid journey data: steps[0].index must be at least 0",
    ],
    [
      { slug: "a", displayName: "A", steps: [{ stepKey: "s", index: 1.5 }] },
      "Invalid journey data: steps[0].index must be an integer",
    ],
    [
      { slug: "a", displayName: "A", steps: [{ stepKey: "s", index: 1e308 }] },
      "Invalid journey data: steps[0].index must be at most 10000",
    ],
    [
      { slug: "a", displayName: "A", steps: [{ stepKey: "s", index: -1e308 }] },
      "Invalid journey data: steps[0].index must be at least 0",
    ],
    [
      { slug: "a", displayName: "A", steps: [{ stepKey: "s", index: 0, fieldCount: 2 ** 60 }] },
      "Invalid journey data: steps[0].fieldCount must be at most 100000",
    ],
    [
      {
        slug: "a",
        displayName: "A",
        steps: [
          { stepKey: "s", index: 0 },
          { stepKey: "s", index: 1 },
        ],
      },
      "Invalid journey data: steps[1].stepKey must be unique within the journey",
    ],
  ])("answers 400 naming the field for %j", async (body, error) => {
    const res = await server.call(key, "POST", "/api/journeys/create", body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error });
  });
});

describe("GET /api/journeys/{slug}", () => {
  it("answers the journey with its steps and every analytics field", async () => {
    const res = await server.call(key, "GET", "/api/journeys/small-business-grant");
    expect(res.status).toBe(200);
    const body = (await res.json()) as JourneyBody;
    expect(body).toMatchObject({
      slug: "small-business-grant",
      displayName: "Small Business Grant Application",
      sourceSystem: "custom",
      environment: "production",
      allowedOrigins: ["https://grants.example.com"],
      healthMetrics: { hasSteps: true, hasRecentEvents: false, sessionCount: 0, hasSnapshot: false },
      behaviorMetrics: {
        completionRate: null,
        mobileRate: null,
        medianTimeToComplete: null,
        topDropoffStep: null,
      },
      eventCountsLast24h: {
        session_start: 0,
        step_view: 0,
        field_focus: 0,
        field_error: 0,
        submit_attempt: 0,
        submit_success: 0,
        submit_failure: 0,
      },
      lastArtifactCreated: null,
    });
    expect(body.steps.map((s: { stepKey: string }) => s.stepKey)).toEqual(["eligibility", "business-info"]);
    expect(body.unmappedStepIds).toEqual(body.steps.map((s: { id: string }) => s.id));
    expect(body.createdAt).toEqual(isoDate);
  });

  it("answers 404 with the documented text", async () => {
    const res = await server.call(key, "GET", "/api/journeys/nonexistent-journey");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('{"error":"Journey with slug \\"nonexistent-journey\\" not found"}');
  });

  it("answers 404 for a slug of any length, as no journey has it", async () => {
    for (const slug of ["a".repeat(101), "a".repeat(256), "a".repeat(4000)]) {
      for (const [method, path, body] of [
        ["GET", `/api/journeys/${slug}`],
        ["PUT", `/api/journeys/${slug}`, { displayName: "Renamed" }],
        ["GET", `/api/journeys/${slug}/snapshots`],
      ] as const) {
        const res = await server.call(key, method, path, body);
        expect(res.status, `${method} ${slug.length}`).toBe(404);
        expect(await res.json()).toEqual({ error: `Journey with slug "${slug}" not found` });
      }
    }
  });
});

describe("PUT /api/journeys/{slug}", () => {
  it("changes what the body names and keeps the rest", async () => {
    const before = (await (
      await server.call(key, "GET", "/api/journeys/small-business-grant")
    ).json()) as JourneyBody;
    const res = await server.call(key, "PUT", "/api/journeys/small-business-grant", {
      displayName: "SBA Small Business Grant",
      allowedOrigins: ["https://grants.example.com", "https://apply.example.com"],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as JourneyBody;
    expect(body).toMatchObject({
      id: before.id,
      orgId: before.orgId,
      slug: "small-business-grant",
      displayName: "SBA Small Business Grant",
      sourceSystem: "custom",
      environment: "production",
      allowedOrigins: ["https://grants.example.com", "https://apply.example.com"],
      createdAt: before.createdAt,
    });
    expect(body.steps).toHaveLength(2);
    expect(Date.parse(body.updatedAt)).toBeGreaterThan(Date.parse(before.updatedAt));
    expect(body).not.toHaveProperty("healthMetrics");

    const again = (await (
      await server.call(key, "GET", "/api/journeys/small-business-grant")
    ).json()) as JourneyBody;
    expect(again.displayName).toBe("SBA Small Business Grant");

    // An empty list is a change (every origin allowed), not an absent field.
    const cleared = await server.call(key, "PUT", "/api/journeys/small-business-grant", {
      allowedOrigins: [],
    });
    expect(await cleared.json()).toMatchObject({
      allowedOrigins: [],
      displayName: "SBA Small Business Grant",
    });
  });

  it("leaves updatedAt alone when the body changes nothing, so a repeated PUT is a no-op", async () => {
    const created = await server.call(key, "POST", "/api/journeys/create", {
      slug: "unchanged",
      displayName: "Unchanged",
      allowedOrigins: ["https://a.example"],
    });
    const { updatedAt } = (await created.json()) as JourneyBody;
    for (const body of [{ displayName: "Unchanged" }, { allowedOrigins: ["HTTPS://A.EXAMPLE/"] }]) {
      const res = await server.call(key, "PUT", "/api/journeys/unchanged", body);
      expect(res.status).toBe(200);
      expect(((await res.json()) as JourneyBody).updatedAt, JSON.stringify(body)).toBe(updatedAt);
    }
    const changed = await server.call(key, "PUT", "/api/journeys/unchanged", { environment: "staging" });
    expect(Date.parse(((await changed.json()) as JourneyBody).updatedAt)).toBeGreaterThan(
      Date.parse(updatedAt),
    );
  });

  it("refuses a request without a body, or with a body type other than JSON, even an empty one", async () => {
    for (const [method, path] of [
      ["PUT", "/api/journeys/unchanged"],
      ["POST", "/api/journeys/create"],
    ] as const) {
      const none = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(none.status, `${method} without a body`).toBe(400);
      expect(await none.json()).toEqual({ error: "Invalid journey data: body must be a JSON object" });
      const text = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": "text/plain" },
      });
      expect(text.status, `${method} text/plain`).toBe(415);
      expect(await text.json()).toEqual({ error: "Content-Type must be application/json" });
    }
  });

  it("refuses a body that names no field an update changes, and accepts a journey sent back whole", async () => {
    const message =
      "Invalid journey data: body must carry at least one of: displayName, environment, sourceSystem, allowedOrigins";
    for (const body of [{}, { displayname: "typo" }, { slug: "renamed", steps: [] }]) {
      const res = await server.call(key, "PUT", "/api/journeys/unchanged", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toEqual({ error: message });
    }
    const trpc = await fetch(`${server.url}/trpc/journeys.update`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { slug: "unchanged", displayname: "typo" } }),
    });
    expect(trpc.status).toBe(400);
    expect(((await trpc.json()) as { error: { json: { message: string } } }).error.json.message).toBe(
      message,
    );

    const whole = (await (await server.call(key, "GET", "/api/journeys/unchanged")).json()) as JourneyBody;
    const sentBack = await server.call(key, "PUT", "/api/journeys/unchanged", {
      ...whole,
      displayName: "Sent back whole",
    });
    expect(sentBack.status).toBe(200);
    expect(await sentBack.json()).toMatchObject({ slug: "unchanged", displayName: "Sent back whole" });
  });

  it("changes environment and sourceSystem", async () => {
    const res = await server.call(key, "PUT", "/api/journeys/minimal", {
      environment: "staging",
      sourceSystem: "simpliGov",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ environment: "staging", sourceSystem: "simpliGov" });
  });

  it("answers 404 for a missing journey and 400 for an invalid change", async () => {
    const missing = await server.call(key, "PUT", "/api/journeys/nonexistent-journey", { displayName: "x" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'Journey with slug "nonexistent-journey" not found' });
    const invalid = await server.call(key, "PUT", "/api/journeys/minimal", { environment: "dev" });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({
      error: "Invalid journey data: environment must be one of: production, staging",
    });
  });
});

describe("list and delete", () => {
  it("pages through every journey newest first with a cursor", async () => {
    for (const n of [1, 2, 3])
      await server.call(key, "POST", "/api/journeys/create", { slug: `page-${n}`, displayName: `P${n}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const res = await server.call(key, "GET", `/api/journeys${query}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { data: { slug: string }[]; nextCursor: string | null };
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((j) => j.slug));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.slice(0, 3)).toEqual(["page-3", "page-2", "page-1"]);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain("small-business-grant");
  });

  it("rejects a cursor it did not issue and a limit out of range", async () => {
    expect((await server.call(key, "GET", "/api/journeys?cursor=garbage")).status).toBe(400);
    for (const limit of ["1000", "99999999999999999999"]) {
      const res = await server.call(key, "GET", `/api/journeys?limit=${limit}`);
      expect(res.status, limit).toBe(400);
      expect(await res.json()).toEqual({ error: "Invalid journey data: limit must be at most 100" });
    }
    for (const limit of ["0", "-99999999999999999999"]) {
      const res = await server.call(key, "GET", `/api/journeys?limit=${limit}`);
      expect(res.status, limit).toBe(400);
      expect(await res.json()).toEqual({ error: "Invalid journey data: limit must be at least 1" });
    }
    // Only decimal digits are a number: hexadecimal, exponents, fractions, blanks and an empty
    // value are refused rather than read as some other page size.
    for (const limit of ["0x10", "1e1", "1e308", "1.5", "%205", "5%20", "", "abc", "Infinity"]) {
      const res = await server.call(key, "GET", `/api/journeys?limit=${limit}`);
      expect(res.status, limit).toBe(400);
      expect(await res.json()).toEqual({ error: "Invalid journey data: limit must be a whole number" });
    }
    expect((await server.call(key, "GET", "/api/journeys?limit=007")).status).toBe(200);
    // A parameter given twice is told so, not that its value is not a number.
    for (const [query, name] of [
      ["limit=1&limit=2", "limit"],
      ["limit=1&limit=1", "limit"],
      ["cursor=a&cursor=b", "cursor"],
      ["limit=5&cursor=a&cursor=b", "cursor"],
    ]) {
      const res = await server.call(key, "GET", `/api/journeys?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json(), query).toEqual({ error: `Invalid journey data: ${name} must be given once` });
    }
    const over = await fetch(`${server.url}/trpc/journeys.list?input=${trpcInput({ limit: 1e20 })}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(over.status).toBe(400);
    expect(await trpcMessage(over)).toBe("Invalid journey data: limit must be at most 100");
  });

  it("answers 400 for a cursor whose time is not a representable instant, over REST and tRPC", async () => {
    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const cursors = [
      // Empty, as an empty limit is refused: not read as "no cursor", the first page.
      "",
      // {"createdAt":"0000-01-01T00:00:00.000Z","id":"journey_abc"}: year 0000, which Postgres refuses.
      "eyJjcmVhdGVkQXQiOiIwMDAwLTAxLTAxVDAwOjAwOjAwLjAwMFoiLCJpZCI6ImpvdXJuZXlfYWJjIn0",
      cursorOf({ createdAt: "0000-12-31T23:59:59.999Z", id: "journey_abc" }),
      cursorOf({ createdAt: "+010000-01-01T00:00:00.000Z", id: "journey_abc" }),
      cursorOf({ createdAt: "2026-02-31T00:00:00.000Z", id: "journey_abc" }),
      cursorOf({ createdAt: "2026-01-01T24:00:00.000Z", id: "journey_abc" }),
      cursorOf({ createdAt: 0, id: "journey_abc" }),
      cursorOf({ createdAt: "2026-01-01T00:00:00.000Z" }),
      cursorOf(null),
      cursorOf([]),
    ];
    const error = "Invalid journey data: cursor is not a cursor this API returned";
    for (const cursor of cursors) {
      const rest = await server.call(key, "GET", `/api/journeys?cursor=${cursor}`);
      expect(rest.status, cursor).toBe(400);
      expect(await rest.json()).toEqual({ error });
      const trpc = await fetch(`${server.url}/trpc/journeys.list?input=${trpcInput({ cursor })}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(trpc.status, cursor).toBe(400);
      expect(await trpcMessage(trpc)).toBe(error);
    }
    // The first and the last instants a cursor can carry are answered, with whatever is older.
    for (const createdAt of ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]) {
      const cursor = cursorOf({ createdAt, id: "journey_abc" });
      const res = await server.call(key, "GET", `/api/journeys?cursor=${cursor}`);
      expect(res.status, createdAt).toBe(200);
    }
  });

  it("deletes a journey, after which it is not found", async () => {
    const res = await server.call(key, "DELETE", "/api/journeys/page-1");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: expect.stringMatching(/^journey_/),
      slug: "page-1",
      deleted: true,
    });
    expect((await server.call(key, "GET", "/api/journeys/page-1")).status).toBe(404);
    expect((await server.call(key, "DELETE", "/api/journeys/page-1")).status).toBe(404);
  });

  it("serves a journey named create at /api/journeys/create, where only POST creates", async () => {
    expect((await server.call(key, "GET", "/api/journeys/create")).status).toBe(404);
    const made = await server.call(key, "POST", "/api/journeys/create", { slug: "create", displayName: "C" });
    expect(made.status).toBe(201);
    const got = await server.call(key, "GET", "/api/journeys/create");
    expect([got.status, (await got.json()).slug]).toEqual([200, "create"]);
    const renamed = await server.call(key, "PUT", "/api/journeys/create", { displayName: "Renamed" });
    expect([renamed.status, (await renamed.json()).displayName]).toEqual([200, "Renamed"]);
    const again = await server.call(key, "POST", "/api/journeys/create", {
      slug: "create",
      displayName: "C",
    });
    expect(again.status).toBe(409);
    expect((await server.call(key, "DELETE", "/api/journeys/create")).status).toBe(200);
    expect((await server.call(key, "GET", "/api/journeys/create")).status).toBe(404);
  });
});

describe("transport errors", () => {
  it("answers malformed JSON with 400", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", '{"slug": ');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "Malformed JSON in request body" });
  });

  it("refuses a DELETE whose body is not JSON, and deletes nothing", async () => {
    await server.call(key, "POST", "/api/journeys/create", { slug: "kept-by-bad-body", displayName: "K" });
    const malformed = await server.call(key, "DELETE", "/api/journeys/kept-by-bad-body", "{this is not json");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: "Malformed JSON in request body" });
    const xml = await fetch(`${server.url}/api/journeys/kept-by-bad-body`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${key}`, "content-type": "text/xml" },
      body: "<x/>",
    });
    expect(xml.status).toBe(415);
    expect(await xml.json()).toEqual({ error: "Content-Type must be application/json" });
    expect((await server.call(key, "GET", "/api/journeys/kept-by-bad-body")).status).toBe(200);
    expect((await server.call(key, "DELETE", "/api/journeys/kept-by-bad-body")).status).toBe(200);
  });

  it("answers a body that is not JSON with 415", async () => {
    const res = await fetch(`${server.url}/api/journeys/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "text/plain" },
      body: "slug=x",
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({ error: "Content-Type must be application/json" });
  });

  it("answers an oversized body with 413", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", {
      slug: "big",
      displayName: "x".repeat(2_000_000),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "Request body is larger than 1048576 bytes" });
  });

  it("answers an unknown route with 404 in the error shape", async () => {
    const res = await server.call(key, "GET", "/api/nothing-here");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "No route for GET /api/nothing-here" });
  });

  it("answers a JSON body that is not an object with 400", async () => {
    const res = await server.call(key, "POST", "/api/journeys/create", "[1,2]");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^Invalid journey data: /);
  });
});
