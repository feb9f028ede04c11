import { request } from "node:http";
import { createApiKey, EventType } from "@odyssey/api";
import { validate } from "@readme/openapi-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiCheck } from "./support/openapi-validator";
import { startTestServer, type TestServer } from "./support/server";

// The published OpenAPI document: valid 3.1, every route, every status each route answers (those
// the server sends, bent requests included, checked against it), the headers of those answers,
// request schemas that refuse what the server refuses, and each route's security.

interface Header {
  $ref?: string;
  required?: boolean;
}
interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: unknown;
  responses: Record<
    string,
    { headers?: Record<string, Header>; content?: Record<string, { schema: unknown }> }
  >;
}
interface Schema {
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown>; headers?: Record<string, Header> };
}

let server: TestServer;
let doc: Document;

beforeAll(async () => {
  // A small body limit, so a body past it is cheap to send; rate limits on, with room to spare.
  server = await startTestServer({
    MAX_BODY_BYTES: "1024",
    RATE_LIMIT_CONTROL_PER_SECOND: "1000",
    RATE_LIMIT_CONTROL_BURST: "100000",
    RATE_LIMIT_INGEST_PER_SECOND: "1000",
    RATE_LIMIT_INGEST_BURST: "100000",
  });
  const res = await fetch(`${server.url}/api/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Document;
});
afterAll(() => server.close());

/** The headers the document declares for an answer, lower-cased, `$ref`s resolved. */
function declaredHeaders(op: Operation, status: number): Map<string, Header> {
  const headers = Object.entries(op.responses[String(status)]?.headers ?? {});
  return new Map(
    headers.map(([name, header]) => {
      const ref = header.$ref?.replace("#/components/headers/", "");
      return [name.toLowerCase(), ref === undefined ? header : (doc.components.headers?.[ref] ?? {})];
    }),
  );
}

/** The part of the document at `pointer`, following each `$ref` on the way. */
const at = (pointer: string): unknown =>
  pointer
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((node, part) => resolved(node as Record<string, unknown> | undefined)?.[part], doc);

/** A `#/components/…` reference's target, else the node itself. */
function resolved(node: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const ref = node?.$ref;
  if (typeof ref !== "string") return node;
  return ref
    .slice(2)
    .split("/")
    .reduce<Record<string, unknown> | undefined>(
      (inner, part) => inner?.[part] as Record<string, unknown> | undefined,
      doc as unknown as Record<string, unknown>,
    );
}

/** The headers the document declares for an answer, as an object of lower-cased names. */
const declaredOf = (op: Operation, status: number) => Object.fromEntries(declaredHeaders(op, status));

/** The headers of the rate limit and its refusals. */
const limitHeaders = ["ratelimit-limit", "ratelimit-policy", "ratelimit-remaining", "ratelimit-reset"];
const limitFamily = [...limitHeaders, "retry-after"];

/** Those of `sent` in the rate limit's family, lower-cased. */
const limitHeadersOf = (sent: Headers | Record<string, unknown>) =>
  limitFamily.filter((name) => (sent instanceof Headers ? sent.has(name) : sent[name] !== undefined));

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })),
  );

describe("/api/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toBe("3.1.0");
    // validate() dereferences in place: give it a copy.
    const result = await validate(structuredClone(doc) as never);
    expect(result).toMatchObject({ valid: true, specification: "OpenAPI", warnings: [] });
  });

  it("lists the documented journeys routes and list/delete", () => {
    expect(operations().map((o) => o.name)).toEqual(
      expect.arrayContaining([
        "POST /api/journeys/create",
        "GET /api/journeys/{slug}",
        "PUT /api/journeys/{slug}",
        "GET /api/journeys",
        "DELETE /api/journeys/{slug}",
      ]),
    );
  });

  it("gives every route every status it can answer, errors in the { error } shape", () => {
    for (const { name, path, op } of operations()) {
      const creates = ["POST /api/journeys/create", "POST /api/journeys/{slug}/snapshots"];
      // Any request can carry a body too large to read (413) or compressed (415), GET included; one
      // on a route that may take a body (or ignores it: snapshots, DELETE) must also be JSON (415).
      const expected = [
        creates.includes(name) ? "201" : "200",
        "400",
        "401",
        "403",
        "413",
        "415",
        "429",
        "500",
        "503",
      ];
      // Events name their journey in the body.
      if (path.includes("{slug}") || path === "/api/events") expected.push("404");
      if (name === "POST /api/journeys/create") expected.push("409", "422");
      expect(Object.keys(op.responses).sort(), name).toEqual(expected.sort());
      for (const [status, response] of Object.entries(op.responses))
        if (Number(status) >= 400)
          expect(response.content?.["application/json"]?.schema, `${name} ${status}`).toEqual({
            $ref: "#/components/schemas/Error",
          });
    }
  });

  it("names every operation and a server to call, as client generators need", () => {
    const ids = operations().map(({ op }) => (op as { operationId?: string }).operationId);
    expect(ids).toEqual([
      "createJourney",
      "getJourney",
      "updateJourney",
      "deleteJourney",
      "listJourneys",
      "createSnapshot",
      "listSnapshots",
      "ingestEvents",
    ]);
    expect((doc as unknown as { servers: unknown[] }).servers).toEqual([
      { url: "/", description: expect.any(String) },
    ]);
  });

  it("describes each shape once, as a component every place it appears refers to", () => {
    const schemas = (doc as unknown as { components: { schemas: Record<string, unknown> } }).components
      .schemas;
    const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    const texts = JSON.stringify(schemas);
    // A step, a journey and the analytics are written out once each.
    for (const name of ["Step", "Journey", "JourneyAnalytics", "FunnelStep", "HealthMetrics"])
      expect(texts.split(`"$ref":"#/components/schemas/${name}"`).length, name).toBeGreaterThan(1);
    expect(texts.match(/"requiredArtifacts":\{/g)?.length).toBe(2); // Step, and StepInput in the create body
    expect(at("/components/schemas/JourneyList/properties/data/items")).toEqual(ref("Journey"));
    expect(at("/components/schemas/Snapshot/properties/configuration")).toEqual(ref("Journey"));
    expect(at("/components/schemas/Snapshot/properties/analytics")).toEqual(ref("JourneyAnalytics"));
    expect(at("/components/schemas/Journey/properties/steps/items")).toEqual(ref("Step"));
    // A component that may be null is referred to beside null, and is itself never null.
    expect(at("/components/schemas/JourneyDetail/properties/lastArtifactCreated")).toMatchObject({
      anyOf: [ref("ArtifactRef"), { type: "null" }],
    });
    expect(at("/components/schemas/BehaviorMetrics/properties/topDropoffStep")).toMatchObject({
      anyOf: [ref("DropoffStep"), { type: "null" }],
    });
    expect(at("/components/schemas/ArtifactRef")).toMatchObject({ type: "object" });
    // The contract's definitions reach the document: units and when a figure is null.
    expect(at("/components/schemas/BehaviorMetrics/properties/medianTimeToComplete")).toMatchObject({
      description: expect.stringMatching(/seconds.*null when/),
    });
    expect(at("/components/schemas/IngestResult/properties/duplicates")).toMatchObject({
      description: expect.stringMatching(/not stored again/),
    });
  });

  it("requires every event type in eventCountsLast24h, as the answer always has them all", () => {
    const schemas = (doc as unknown as { components: { schemas: Record<string, Schema> } }).components
      .schemas;
    const counts = resolved(schemas.JourneyDetail?.properties?.eventCountsLast24h as never) as Schema;
    const types = Object.keys(counts?.properties ?? {});
    expect(types).toEqual(EventType.options);
    expect(counts?.required?.sort()).toEqual([...types].sort());
  });

  it("names the bearer scheme and each route's scope", () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const scopes = Object.fromEntries(operations().map(({ name, op }) => [name, op.security]));
    expect(scopes).toMatchObject({
      "POST /api/journeys/create": [{ bearerAuth: ["journeys:write"] }],
      "GET /api/journeys/{slug}": [{ bearerAuth: ["journeys:read"] }],
      "PUT /api/journeys/{slug}": [{ bearerAuth: ["journeys:write"] }],
      "GET /api/journeys": [{ bearerAuth: ["journeys:read"] }],
      "DELETE /api/journeys/{slug}": [{ bearerAuth: ["journeys:write"] }],
      // A publishable key in the body needs no header: the empty requirement.
      "POST /api/events": [{ bearerAuth: ["events:write"] }, {}],
    });
  });

  it("lets events go with a publishable key in the body and no header, and says so", async () => {
    const events = doc.paths["/api/events"]?.post as Operation & { description: string };
    expect(events.description).toContain('`"key"` in the body');
    const batch = (
      doc.components as unknown as { schemas: Record<string, Schema & { description?: string }> }
    ).schemas.EventBatch;
    expect((batch?.properties?.key as { description?: string })?.description).toMatch(/publishable key/);
    expect(events.responses["403"]).toMatchObject({ description: expect.stringMatching(/allowedOrigins/) });

    const check = openApiCheck(doc);
    const owner = await server.key("beacons");
    const created = await server.call(owner, "POST", "/api/journeys/create", {
      slug: "sbg",
      displayName: "SBG",
      allowedOrigins: ["https://grants.example.com"],
    });
    expect(created.status).toBe(201);
    const { key } = await createApiKey(server.database.db, { orgSlug: "beacons", kind: "publishable" });
    const beacon = (origin: string) =>
      fetch(`${server.url}/api/events`, {
        method: "POST",
        headers: { "content-type": "text/plain", origin },
        body: JSON.stringify({ journey: "sbg", key, events: [] }),
      });
    const allowed = await beacon("https://grants.example.com");
    expect(allowed.status).toBe(200);
    expect(check.problem("POST", "/api/events", 200, await allowed.json())).toBeUndefined();
    const refused = await beacon("https://evil.example.com");
    const body = await refused.json();
    expect([refused.status, body]).toEqual([
      403,
      { error: 'Origin https://evil.example.com is not allowed to send events for journey "sbg"' },
    ]);
    expect(check.problem("POST", "/api/events", 403, body)).toBeUndefined();
  });
});

/** One request through node:http, which (unlike fetch) sends a body with any method, GET included. */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) };
    const outgoing = request(
      `${server.url}${path}`,
      { method, headers: { ...headers, ...length } },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = incoming.statusCode ?? 0;
          resolve({ status, headers: incoming.headers, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

describe("the statuses the server answers", () => {
  it("are documented for the operation, with the body the document gives them", async () => {
    const check = openApiCheck(doc);
    const writer = await server.key("statuses");
    const reader = await server.key("statuses", ["journeys:read"]);
    const created = await server.call(writer, "POST", "/api/journeys/create", {
      slug: "documented",
      displayName: "Documented",
    });
    expect(created.status).toBe(201);
    const json = { "content-type": "application/json" };
    const bodies: Record<string, string> = {
      "POST /api/journeys/create": JSON.stringify({ slug: "documented-2", displayName: "D" }),
      "PUT /api/journeys/{slug}": JSON.stringify({ displayName: "Renamed" }),
      "POST /api/events": JSON.stringify({ journey: "documented", events: [] }),
    };
    // The ways a request is bent at the transport: its headers, and its body given the sound one
    // (none for an operation that takes none).
    const asSent = (sound: string | undefined) => sound;
    const bends: {
      name: string;
      key: string | undefined;
      headers: Record<string, string>;
      body: (sound: string | undefined) => string | undefined;
    }[] = [
      { name: "sound", key: writer, headers: json, body: asSent },
      { name: "no key", key: undefined, headers: json, body: asSent },
      { name: "read-only key", key: reader, headers: json, body: asSent },
      {
        name: "encoded, no body",
        key: writer,
        headers: { "content-encoding": "gzip" },
        body: () => undefined,
      },
      {
        name: "compressed body",
        key: writer,
        headers: { ...json, "content-encoding": "gzip" },
        body: () => "{}",
      },
      { name: "not JSON", key: writer, headers: { "content-type": "text/html" }, body: () => "<p>" },
      { name: "malformed JSON", key: writer, headers: json, body: () => "{" },
      { name: "past the limit", key: writer, headers: json, body: () => `"${"x".repeat(2000)}"` },
    ];
    const seen = new Set<string>();
    // DELETE last, so the journey the others name is there for them.
    const deleteLast = operations().sort(
      (a, b) => Number(a.name.startsWith("DELETE")) - Number(b.name.startsWith("DELETE")),
    );
    for (const { name, path, op } of deleteLast) {
      const method = name.slice(0, name.indexOf(" "));
      for (const slug of ["documented", "missing-journey"])
        for (const bend of bends) {
          const headers = { ...bend.headers, ...(bend.key ? { authorization: `Bearer ${bend.key}` } : {}) };
          const concrete = path.replace("{slug}", slug);
          const answer = await send(method, concrete, headers, bend.body(bodies[name]));
          seen.add(`${name} ${answer.status}`);
          const problem = check.problem(method, concrete, answer.status, answer.body);
          expect(problem, `${name} on ${slug}, ${bend.name}`).toBeUndefined();
          // With the limit on, every answer carries the limit's headers, each declared.
          const declared = [...declaredHeaders(op, answer.status).keys()];
          expect(limitHeadersOf(answer.headers), `${name} ${answer.status}`).toEqual(
            limitFamily.filter((header) => declared.includes(header)),
          );
          expect(answer.headers["x-request-id"], `${name} ${answer.status}`).toEqual(expect.any(String));
        }
    }
    // The bends reach what they aim at: a compressed body is refused even on GET.
    expect(seen).toContain("GET /api/journeys/{slug} 415");
    expect(seen).toContain("GET /api/journeys/{slug} 200");
    expect(seen).toContain("GET /api/journeys 413");
  });
});

describe("the headers of the rate limit", () => {
  it("are declared on every answer of every operation, Retry-After as required on 429 and 503", () => {
    for (const { name, op } of operations())
      for (const status of Object.keys(op.responses).map(Number)) {
        const declared = declaredHeaders(op, status);
        const expected = [...(status === 429 || status === 503 ? limitFamily : limitHeaders), "x-request-id"];
        expect([...declared.keys()].sort(), `${name} ${status}`).toEqual(expected.sort());
        for (const header of limitHeaders) expect(declared.get(header)?.required).toBeFalsy();
        expect(declared.get("x-request-id")?.required).toBe(true);
        if (status === 429 || status === 503) expect(declared.get("retry-after")?.required).toBe(true);
      }
  });

  it("are sent as declared on a 429, Retry-After alone on one for invalid keys", async () => {
    const limited = await startTestServer({
      RATE_LIMIT_CONTROL_PER_SECOND: "0.01",
      RATE_LIMIT_CONTROL_BURST: "2",
      RATE_LIMIT_INGEST_PER_SECOND: "0.01",
      RATE_LIMIT_INGEST_BURST: "2",
    });
    try {
      const retrieve = doc.paths["/api/journeys/{slug}"]?.get as Operation;
      const events = doc.paths["/api/events"]?.post as Operation;
      const key = await limited.key("limited");
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await limited.call(key, "GET", "/api/journeys/some"));
      expect(answers.map((answer) => answer.status)).toEqual([404, 404, 429]);
      for (const answer of answers)
        expect(limitHeadersOf(answer.headers)).toEqual(limitHeadersOf(declaredOf(retrieve, answer.status)));
      // Made-up keys spend their address's bucket of failures, then are refused before any lookup.
      const madeUp = [];
      for (let i = 0; i < 3; i++)
        madeUp.push(
          await limited.call(`ody_sk_madeup${i}`, "POST", "/api/events", { journey: "x", events: [] }),
        );
      expect(madeUp.map((answer) => answer.status)).toEqual([401, 401, 429]);
      const refused = madeUp[2] as Response;
      expect(await refused.json()).toMatchObject({ error: expect.stringMatching(/invalid API keys/) });
      expect(limitHeadersOf(refused.headers)).toEqual(["retry-after"]);
      const declared = declaredHeaders(events, 429);
      for (const header of limitHeadersOf(refused.headers)) expect(declared.has(header)).toBe(true);
    } finally {
      await limited.close();
    }
  });
});

describe("the documented requests", () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  /** Whether the document's schema at `pointer` (a JSON pointer into it) accepts `value`. */
  const accepts = (pointer: string, value: unknown) =>
    ajv.validate({ $ref: `#${pointer}`, paths: doc.paths, components: doc.components }, value);
  const body = (path: string, method: string) =>
    `/paths/${path.replaceAll("/", "~1")}/${method}/requestBody/content/application~1json/schema`;
  const update = body("/api/journeys/{slug}", "put");
  const create = body("/api/journeys/create", "post");
  const event = "/components/schemas/EventBatch/properties/events/items";
  let key: string;

  beforeAll(async () => {
    key = await server.key("requests");
    const created = await server.call(key, "POST", "/api/journeys/create", {
      slug: "requests",
      displayName: "Requests",
    });
    expect(created.status).toBe(201);
  });

  it("refuse the update bodies the server refuses, and take those it takes", async () => {
    const refused: [unknown, string][] = [
      [{}, "body must carry at least one of: displayName, environment, sourceSystem, allowedOrigins"],
      [{ steps: [{ stepKey: "a", index: 0 }] }, "body must carry at least one of"],
      [{ displayName: "   " }, "displayName must not be empty"],
      [{ allowedOrigins: ["grants.example.com"] }, "allowedOrigins[0] must be an origin URL"],
      [{ allowedOrigins: ["https://grants.example.com?x=1"] }, "must be an origin URL"],
      [{ allowedOrigins: ["https://grants.example.com#top"] }, "must be an origin URL"],
      [{ allowedOrigins: ["ftp://grants.example.com"] }, "must be an origin URL"],
    ];
    for (const [changes, message] of refused) {
      const answer = await server.call(key, "PUT", "/api/journeys/requests", changes);
      expect(answer.status, JSON.stringify(changes)).toBe(400);
      expect((await answer.json()).error).toContain(message);
      expect(accepts(update, changes), JSON.stringify(changes)).toBe(false);
    }
    const taken = [
      { displayName: " Renamed ", steps: [] },
      { environment: "staging", id: "ignored" },
      {
        allowedOrigins: [
          "HTTPS://Grants.Example.com:443/",
          "http://[::1]:8080",
          "https://xn--bcher-kva.example",
          // Forgiven by URL parsing: surrounding spaces, a dot segment, an empty user name.
          "  https://App.Example.com:443/  ",
          "https://a.example/.",
          "https://@b.example",
        ],
      },
    ];
    for (const changes of taken) {
      expect((await server.call(key, "PUT", "/api/journeys/requests", changes)).status).toBe(200);
      expect(accepts(update, changes), JSON.stringify(changes)).toBe(true);
    }
    // A path or credentials are refused by the server and only described in the document.
    for (const origin of ["https://grants.example.com/apply", "https://user@grants.example.com"]) {
      const answer = await server.call(key, "PUT", "/api/journeys/requests", { allowedOrigins: [origin] });
      expect(answer.status, origin).toBe(400);
    }
    expect(JSON.stringify(doc)).toContain("no path, query, fragment, credentials or control characters");
  });

  it("refuse a blank display name on create, and describe what JSON Schema cannot say", async () => {
    const blank = { slug: "blank", displayName: " \t " };
    const answer = await server.call(key, "POST", "/api/journeys/create", blank);
    expect([answer.status, (await answer.json()).error]).toEqual([
      400,
      "Invalid journey data: displayName must not be empty",
    ]);
    expect(accepts(create, blank)).toBe(false);
    // 255 characters as sent, spaces around the name included: the document's bound is the server's.
    const padded = (name: string) => ({ slug: "padded", displayName: ` ${name} ` });
    const over = await server.call(key, "POST", "/api/journeys/create", padded("x".repeat(254)));
    expect([over.status, (await over.json()).error]).toEqual([
      400,
      "Invalid journey data: displayName must be at most 255 characters",
    ]);
    expect(accepts(create, padded("x".repeat(254)))).toBe(false);
    const within = await server.call(key, "POST", "/api/journeys/create", padded("x".repeat(253)));
    expect([within.status, (await within.json()).displayName]).toEqual([201, "x".repeat(253)]);
    expect(accepts(create, padded("x".repeat(253)))).toBe(true);
    // Steps repeating a stepKey or an index: refused, and said in words.
    const repeated = {
      slug: "repeated",
      displayName: "R",
      steps: [
        { stepKey: "a", index: 0 },
        { stepKey: "a", index: 0 },
      ],
    };
    expect((await server.call(key, "POST", "/api/journeys/create", repeated)).status).toBe(400);
    const described = (pointer: string) =>
      (at(`${create}${pointer}`) as { description?: string }).description;
    expect(described("/properties/steps")).toMatch(/`stepKey`.*`index`.*once/);
    expect(described("/properties/steps/items/properties/stepKey")).toMatch(/[Uu]nique within the journey/);
    expect(described("/properties/steps/items/properties/index")).toMatch(/[Uu]nique within the journey/);
  });

  it("refuse the Idempotency-Keys the server refuses", async () => {
    const parameters = doc.paths["/api/journeys/create"]?.post as unknown as {
      parameters: { name: string; in: string }[];
    };
    const at = parameters.parameters.findIndex((p) => p.in === "header" && p.name === "idempotency-key");
    const header = `${body("/api/journeys/create", "post").replace(/\/requestBody.*$/, "")}/parameters/${at}/schema`;
    const message = "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces";
    const journey = JSON.stringify({ slug: "idempotent", displayName: "I" });
    for (const value of ["", "has space", "x".repeat(256), "cl\u00e9"]) {
      const answer = await send(
        "POST",
        "/api/journeys/create",
        { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": value },
        journey,
      );
      expect([answer.status, answer.body], value).toEqual([400, { error: message }]);
      expect(accepts(header, value), value).toBe(false);
    }
    const good = `retry-1_~!${"x".repeat(245)}`;
    const answer = await send(
      "POST",
      "/api/journeys/create",
      { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": good },
      journey,
    );
    expect(answer.status).toBe(201);
    expect(accepts(header, good)).toBe(true);
  });

  it("refuse a step_view without stepKey, which the server rejects on its own", async () => {
    const at = new Date().toISOString();
    const base = { id: "0193a0c2-7d1e-7c4b-9a51-3f1e2b8c9d00", sessionId: "s", timestamp: at };
    const events = [
      { ...base, type: "step_view" },
      { ...base, id: "0193a0c2-7d1e-7c4b-9a51-3f1e2b8c9d01", type: "step_view", stepKey: null },
      { ...base, id: "0193a0c2-7d1e-7c4b-9a51-3f1e2b8c9d02", type: "step_view", stepKey: "a" },
      { ...base, id: "0193a0c2-7d1e-7c4b-9a51-3f1e2b8c9d03", type: "session_start" },
    ];
    const answer = await server.call(key, "POST", "/api/events", { journey: "requests", events });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({
      accepted: 2,
      rejected: [
        { index: 0, error: expect.stringContaining("stepKey is required for step_view events") },
        { index: 1, error: expect.stringContaining("stepKey is required for step_view events") },
      ],
    });
    expect(events.map((e) => accepts(event, e))).toEqual([false, false, true, true]);
  });

  it("take the event times the server takes, `t` and `z` in either case, and refuse those it refuses", async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const times = [
      iso(now),
      iso(now).toLowerCase(),
      iso(now).replace("Z", "+00:00").replace("T", "t"),
      // (A space for `T`, which RFC 3339's grammar does not allow, is left out: ajv-formats takes it.)
      iso(now).slice(0, 16),
      "yesterday",
    ];
    const events = times.map((timestamp, i) => ({
      id: `0193a0c2-7d1e-7c4b-9a51-3f1e2b8c9e0${i}`,
      type: "session_start",
      sessionId: "times",
      timestamp,
    }));
    const answer = await server.call(key, "POST", "/api/events", { journey: "requests", events });
    const { rejected } = (await answer.json()) as { rejected: { index: number }[] };
    const takenByServer = events.map((_, i) => !rejected.some((r) => r.index === i));
    expect(takenByServer).toEqual([true, true, true, false, false]);
    expect(events.map((e) => accepts(event, e))).toEqual(takenByServer);
  });
});

describe("answers given before any operation is chosen", () => {
  it("are named in the document's description, as the server sends them on a documented path", async () => {
    const description = (doc as unknown as { info: { description: string } }).info.description;
    const path = "/api/journeys/documented";
    const expectation = await send("GET", path, { expect: "something-else" });
    const head = await send("GET", path, { "x-padding": "x".repeat(20_000) });
    expect([expectation.status, head.status]).toEqual([417, 431]);
    for (const status of [400, 408, 417, 431]) expect(description).toContain(`\`${status}\``);
    expect(description).toMatch(/`100-continue`/);
  });
});

describe("/docs", () => {
  it("serves an HTML reference page over the document", async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("/api/openapi.json");
    expect(html).toContain("<title>Odyssey API reference</title>");
    // The script is held to one major version of Scalar's reference.
    expect(html).toContain('<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1">');
  });
});
