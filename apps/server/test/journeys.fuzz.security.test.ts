import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server";

// Generated bodies, near-valid and hostile, on create and update over both transports: each is
// answered with a documented status and the error shape, never a 500. Run counts are bounded.

const RUNS = 120;

let server: TestServer;
let key: string;
beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("fuzz");
  await server.call(key, "POST", "/api/journeys/create", { slug: "target", displayName: "Target" });
});
afterAll(() => server.close());

/** Characters that databases, encoders and parsers tend to trip on. */
const awkward = fc.constantFrom(
  "a",
  "Z",
  "\u0000",
  "\ud800",
  "\udfff",
  "é",
  "😀",
  "\\",
  "'",
  '"',
  "%",
  "\n",
  "\u202e",
);
const anyText = fc.oneof(
  fc.string({ unit: awkward, maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 300 }),
);
const anyValue = fc.oneof(anyText, fc.jsonValue({ maxDepth: 3 }), fc.double(), fc.integer());
/** Mostly a well-typed value, so that bodies get past the first check and reach the database. */
const maybe = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: arb, weight: 4 }, { arbitrary: anyValue, weight: 1 });

const step = fc.record(
  {
    stepKey: maybe(anyText),
    index: maybe(fc.integer({ min: -2, max: 20_000 })),
    name: maybe(anyText),
    stepType: maybe(anyText),
    readingLevel: maybe(fc.double()),
    fieldCount: maybe(fc.integer()),
    requiredArtifacts: maybe(fc.array(anyText, { maxLength: 3 })),
    id: anyValue,
  },
  { requiredKeys: [] },
);

const changes = {
  displayName: maybe(anyText),
  sourceSystem: maybe(fc.constantFrom("simpliGov", "custom", "unknown")),
  environment: maybe(fc.constantFrom("production", "staging")),
  allowedOrigins: maybe(fc.array(fc.oneof(fc.webUrl(), anyText), { maxLength: 3 })),
  orgId: anyValue,
  createdAt: anyValue,
};
const createBody = fc.record(
  {
    slug: maybe(fc.stringMatching(/^[a-z0-9-]{1,12}$/)),
    steps: maybe(fc.array(step, { maxLength: 4 })),
    ...changes,
  },
  { requiredKeys: ["slug", "displayName"] },
);
const updateBody = fc.record(changes, { requiredKeys: [] });

async function restAnswer(method: string, path: string, body: unknown) {
  const res = await server.call(key, method, path, JSON.stringify(body));
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 400) expect(Object.keys(json)).toEqual(["error"]);
  return res.status;
}

async function trpcAnswer(procedure: string, input: unknown) {
  const res = await fetch(`${server.url}/trpc/${procedure}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ json: input }),
  });
  await res.json();
  return res.status;
}

/** What a URL can carry once percent-encoded (lone surrogates cannot be). */
const urlText = fc.string({
  unit: fc.constantFrom(
    "a",
    "-",
    "0",
    "\u0000",
    "é",
    "😀",
    "\\",
    "'",
    '"',
    "%",
    "/",
    "?",
    "#",
    " ",
    "\n",
    "\u202e",
  ),
  maxLength: 30,
});

describe("generated slugs and list queries", () => {
  it("REST retrieve, delete and list answer a documented status", async () => {
    await fc.assert(
      fc.asyncProperty(urlText, urlText, fc.oneof(fc.integer(), urlText), async (slug, cursor, limit) => {
        const path = `/api/journeys/${encodeURIComponent(slug)}`;
        expect([200, 400, 404]).toContain((await server.call(key, "GET", path)).status);
        expect([200, 400, 404]).toContain((await server.call(key, "DELETE", path)).status);
        const query = `?cursor=${encodeURIComponent(cursor)}&limit=${encodeURIComponent(String(limit))}`;
        expect([200, 400]).toContain((await server.call(key, "GET", `/api/journeys${query}`)).status);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("generated bodies", () => {
  it("REST and tRPC create answer 201, 400 or 409", async () => {
    await fc.assert(
      fc.asyncProperty(createBody, async (body) => {
        expect([201, 400, 409]).toContain(await restAnswer("POST", "/api/journeys/create", body));
        expect([200, 400, 409]).toContain(await trpcAnswer("journeys.create", body));
      }),
      { numRuns: RUNS },
    );
  });

  it("REST and tRPC update answer 200 or 400", async () => {
    await fc.assert(
      fc.asyncProperty(updateBody, async (body) => {
        expect([200, 400]).toContain(await restAnswer("PUT", "/api/journeys/target", body));
        expect([200, 400]).toContain(await trpcAnswer("journeys.update", { ...body, slug: "target" }));
      }),
      { numRuns: RUNS },
    );
  });
});
