import { MAX_TRPC_BATCH_CALLS } from "@odyssey/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bodyOf, rawRequest, statusOf } from "./support/raw-http";
import { startTestServer, type TestServer } from "./support/server";

// Bad input at the transport level, on tRPC as on REST: a clear 4xx with the same words,
// in each transport's error shape, and never a 500.

let server: TestServer;
let key: string;

beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("transport");
  expect(
    (await server.call(key, "POST", "/api/journeys/create", { slug: "existing", displayName: "E" })).status,
  ).toBe(201);
});
afterAll(() => server.close());

interface TrpcError {
  status: number;
  message: string;
  code: string;
}

async function trpc(
  method: "GET" | "POST",
  path: string,
  init: { body?: string; contentType?: string; query?: string; encoding?: string; keyless?: boolean } = {},
): Promise<TrpcError> {
  const headers: Record<string, string> = init.keyless ? {} : { authorization: `Bearer ${key}` };
  if (init.contentType) headers["content-type"] = init.contentType;
  if (init.encoding) headers["content-encoding"] = init.encoding;
  const res = await fetch(`${server.url}/trpc/${path}${init.query ?? ""}`, {
    method,
    headers,
    body: init.body,
  });
  const body = (await res.json()) as {
    error: {
      json: { message: string; code: number; data: { code: string; httpStatus: number; stack?: string } };
    };
  };
  expect(body.error.json.data.httpStatus).toBe(res.status);
  expect(body.error.json.data).not.toHaveProperty("stack");
  return { status: res.status, message: body.error.json.message, code: body.error.json.data.code };
}

const json = "application/json";

/** POSTs `body` as JSON to the tRPC procedures of `path` with the test key: the whole answer. */
const postTrpc = (path: string, body: unknown) =>
  fetch(`${server.url}/trpc/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": json },
    body: JSON.stringify(body),
  });

describe("tRPC at /trpc", () => {
  it("answers malformed JSON with 400 and the REST text", async () => {
    expect(await trpc("POST", "journeys.create", { body: '{"json": {"slug": ', contentType: json })).toEqual({
      status: 400,
      code: "BAD_REQUEST",
      message: "Malformed JSON in request body",
    });
    expect(await trpc("GET", "journeys.get", { query: "?input=%7B%22json%22" })).toEqual({
      status: 400,
      code: "BAD_REQUEST",
      message: "Malformed JSON in the input query parameter",
    });
  });

  it("answers a query without input, or with input that is no object, naming its input, not a body", async () => {
    expect(await trpc("GET", "journeys.get")).toEqual({
      status: 400,
      code: "BAD_REQUEST",
      message: "Invalid journey data: input must be a JSON object, sent as the input query parameter",
    });
    const notAnObject = encodeURIComponent(JSON.stringify({ json: 5 }));
    expect(await trpc("GET", "journeys.get", { query: `?input=${notAnObject}` })).toEqual({
      status: 400,
      code: "BAD_REQUEST",
      message: "Invalid journey data: input must be an object",
    });
  });

  it("answers input that is JSON but not superjson's encoding with 400", async () => {
    expect(await trpc("POST", "journeys.create", { body: "null", contentType: json })).toEqual({
      status: 400,
      code: "BAD_REQUEST",
      message: "Malformed input: expected superjson's encoding ({ json, meta })",
    });
  });

  it("refuses superjson Sets, Maps and classes in an input before decoding it", async () => {
    // A reference through a Set costs superjson a walk of its entries: this body, within the
    // ingestion limit and sent without a key, would take seconds of the event loop to decode.
    const entries = Array.from({ length: 30_000 }, (_, i) => i);
    const crafted = {
      json: { journey: "existing", events: [], entries, last: 0 },
      meta: {
        values: { entries: ["set"] },
        referentialEqualities: { last: Array(20_000).fill(`entries.${entries.length - 1}`) },
      },
    };
    const refused = {
      status: 400,
      code: "BAD_REQUEST",
      message:
        "Malformed input: superjson Sets, Maps and classes are not taken; send arrays and plain objects",
    };
    const body = JSON.stringify(crafted);
    expect(body.length).toBeLessThan(512 * 1024);
    expect(await trpc("POST", "events.ingest", { body, contentType: json, keyless: true })).toEqual(refused);
    for (const values of [
      { "json.slug": ["custom", "x"] },
      { steps: ["map"] },
      { "steps.0": ["class", "Step"] },
    ])
      expect(
        await trpc("POST", "journeys.create", {
          body: JSON.stringify({
            json: { slug: "annotated", displayName: "A", steps: [] },
            meta: { values },
          }),
          contentType: json,
        }),
        JSON.stringify(values),
      ).toEqual(refused);
    // What a client's superjson writes for an input with an undefined member (null, annotated) is taken.
    const undefinedMember = {
      json: { slug: "annotated", displayName: "A", sourceSystem: null },
      meta: { values: { sourceSystem: ["undefined"] } },
    };
    const res = await postTrpc("journeys.create", undefinedMember);
    expect(res.status).toBe(200);
    expect((await server.call(key, "DELETE", "/api/journeys/annotated")).status).toBe(200);
  });

  it("refuses superjson annotations naming places its json does not have, before decoding it", async () => {
    // superjson would create them: an index far past an array's end makes an array that long.
    const noSuchPlace = {
      status: 400,
      code: "BAD_REQUEST",
      message: "Malformed input: its superjson meta names a place its json does not have",
    };
    const ingest = (meta: unknown) =>
      trpc("POST", "events.ingest", {
        body: JSON.stringify({ json: { journey: "existing", key: "ody_pk_x", events: [] }, meta }),
        contentType: json,
        keyless: true,
      });
    for (const meta of [
      { values: { "events.20000000": ["undefined"] } },
      { values: { "nothing.here": ["undefined"] } },
      { values: { "journey\\.x": ["undefined"] } },
      { values: { "__proto__.x": ["undefined"] } },
    ])
      expect(await ingest(meta), JSON.stringify(meta)).toEqual(noSuchPlace);
    // Nested annotations make superjson copy the path so far for every entry: one per path only.
    expect(await ingest({ values: { journey: { x: ["Date"] } } })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^Malformed input: superjson Sets, Maps and classes are not taken/),
    });
    expect(
      await trpc("POST", "journeys.create", {
        body: JSON.stringify({
          json: { slug: "a", displayName: "A" },
          meta: { values: { slug: ["bigint"] } },
        }),
        contentType: json,
      }),
    ).toEqual({
      status: 400,
      code: "BAD_REQUEST",
      message: "Malformed input: a superjson annotation does not fit its value",
    });
  });

  it("takes superjson annotations on keys holding dots, escaped as superjson escapes them", async () => {
    const res = await postTrpc("journeys.update", {
      json: { slug: "existing", displayName: "Existing", "seen.at": null },
      meta: { values: { "seen\\.at": ["undefined"] }, v: 1 },
    });
    expect(res.status).toBe(200);
  });

  it("decodes superjson references as the values its json holds, which is how superjson writes them", async () => {
    // Applied, references could share one large value into thousands of places (or grow an
    // array to 2^32): each value is read where json has it instead.
    const crafted = {
      json: { journey: "existing", key: "ody_pk_x", events: [] },
      meta: { referentialEqualities: { journey: ["events.4294967294"] } },
    };
    const refused = await trpc("POST", "events.ingest", {
      body: JSON.stringify(crafted),
      contentType: json,
      keyless: true,
    });
    expect(refused.status).toBe(401);
    const shared = {
      json: { slug: "shared-arrays", displayName: "S", allowedOrigins: ["https://a.example"], steps: [] },
      meta: { referentialEqualities: { allowedOrigins: ["steps"] }, v: 1 },
    };
    const res = await postTrpc("journeys.create", shared);
    expect(res.status).toBe(200);
    const created = (await (await server.call(key, "GET", "/api/journeys/shared-arrays")).json()) as {
      allowedOrigins: string[];
      steps: unknown[];
    };
    expect([created.allowedOrigins, created.steps]).toEqual([["https://a.example"], []]);
    expect((await server.call(key, "DELETE", "/api/journeys/shared-arrays")).status).toBe(200);
  });

  it("refuses input that is present but not wrapped in superjson's encoding, rather than reading it as none", async () => {
    const malformedInput = {
      status: 400,
      code: "BAD_REQUEST",
      message: "Malformed input: expected superjson's encoding ({ json, meta })",
    };
    const query = (input: unknown) => `?input=${encodeURIComponent(JSON.stringify(input))}`;
    // Read as no input, these answered the default page: a raw caller following nextCursor
    // would get page 1 forever.
    for (const input of [{ limit: 1 }, { limit: 0 }, { cursor: "x" }, {}, [], 5, "text", true])
      expect(await trpc("GET", "journeys.list", { query: query(input) }), JSON.stringify(input)).toEqual(
        malformedInput,
      );
    expect(await trpc("GET", "journeys.get", { query: query({ slug: "existing" }) })).toEqual(malformedInput);
    for (const body of ['{"slug":"raw","displayName":"Raw"}', "[]", '"text"', "5"])
      expect(await trpc("POST", "journeys.create", { body, contentType: json }), body).toEqual(
        malformedInput,
      );
    expect(
      await trpc("POST", "events.ingest", {
        body: JSON.stringify({ journey: "existing", events: [] }),
        contentType: json,
      }),
    ).toEqual(malformedInput);
    expect((await server.call(key, "GET", "/api/journeys/raw")).status).toBe(404);
  });

  it("refuses an unwrapped input in a batch of calls, GET or POST", async () => {
    const batchErrors = async (res: Response) => {
      const body = (await res.json()) as { error?: { json: { message: string } } }[];
      return { status: res.status, messages: body.map((item) => item.error?.json.message) };
    };
    const malformed = "Malformed input: expected superjson's encoding ({ json, meta })";
    const inputs = { 0: { json: { limit: 1 } }, 1: { limit: 1 } };
    const get = await fetch(
      `${server.url}/trpc/journeys.list,journeys.list?batch=1&input=${encodeURIComponent(JSON.stringify(inputs))}`,
      { headers: { authorization: `Bearer ${key}` } },
    );
    expect(await batchErrors(get)).toEqual({ status: 400, messages: [malformed, malformed] });
    const post = await postTrpc("journeys.snapshots.create,journeys.delete?batch=1", {
      0: { json: { slug: "existing" } },
      1: "existing",
    });
    expect(await batchErrors(post)).toEqual({ status: 400, messages: [malformed, malformed] });
    expect((await server.call(key, "GET", "/api/journeys/existing")).status).toBe(200);
  });

  it("still takes an absent input as no input, alone or in a batch", async () => {
    const list = await fetch(`${server.url}/trpc/journeys.list`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(list.status).toBe(200);
    const batch = await fetch(
      `${server.url}/trpc/journeys.list,journeys.list?batch=1&input=${encodeURIComponent(JSON.stringify({ 1: { json: { limit: 1 } } }))}`,
      { headers: { authorization: `Bearer ${key}` } },
    );
    expect(batch.status).toBe(200);
    const pages = (await batch.json()) as { result: { data: { json: { data: unknown[] } } } }[];
    expect(pages.map((page) => page.result.data.json.data.length)).toEqual([1, 1]);
  });

  it("answers invalid input with the REST validation text", async () => {
    const body = JSON.stringify({ json: { slug: "Not A Slug", displayName: "X" } });
    expect(await trpc("POST", "journeys.create", { body, contentType: json })).toEqual({
      status: 400,
      code: "BAD_REQUEST",
      message: "Invalid journey data: slug must contain only lowercase letters, numbers, and hyphens",
    });
  });

  it.each([undefined, "text/plain", "application/x-www-form-urlencoded"])(
    "answers a %s body with 415 and the REST text",
    async (contentType) => {
      const body = JSON.stringify({ json: { slug: "typed", displayName: "X" } });
      expect(await trpc("POST", "journeys.create", { body, contentType })).toEqual({
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: "Content-Type must be application/json",
      });
    },
  );

  it("answers an oversized body with 413 and the REST text", async () => {
    const body = JSON.stringify({ json: { slug: "big", displayName: "x".repeat(2_000_000) } });
    expect(await trpc("POST", "journeys.create", { body, contentType: json })).toEqual({
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      message: "Request body is larger than 1048576 bytes",
    });
  });

  it("answers an unknown procedure with 404 and a query sent as a mutation with 405", async () => {
    expect(await trpc("GET", "journeys.nothing")).toMatchObject({ status: 404, code: "NOT_FOUND" });
    expect(await trpc("GET", "journeys.create")).toMatchObject({ status: 405, code: "METHOD_NOT_SUPPORTED" });
  });
});

describe("tRPC's own limits", () => {
  it("answers a method other than GET and POST with 405 and Allow", async () => {
    for (const method of ["DELETE", "PUT", "PATCH"]) {
      const res = await fetch(`${server.url}/trpc/journeys.delete`, {
        method,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, POST");
      const body = (await res.json()) as { error: { json: { message: string } } };
      expect(body.error.json.message).toBe(`Method ${method} is not supported: tRPC takes GET and POST`);
    }
  });

  it("refuses a batch of more than MAX_TRPC_BATCH_CALLS calls, running none of them", async () => {
    const calls = (n: number) => `journeys.snapshots.create,`.repeat(n).slice(0, -1);
    const body = (n: number) =>
      JSON.stringify(
        Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { json: { slug: "existing" } }])),
      );
    expect(
      await trpc("POST", `${calls(MAX_TRPC_BATCH_CALLS + 1)}?batch=1`, {
        body: body(MAX_TRPC_BATCH_CALLS + 1),
        contentType: json,
      }),
    ).toEqual({
      status: 400,
      code: "BAD_REQUEST",
      message: `A tRPC request may batch at most ${MAX_TRPC_BATCH_CALLS} calls (MAX_TRPC_BATCH_CALLS); this one has ${MAX_TRPC_BATCH_CALLS + 1}`,
    });
    const listed = await server.call(key, "GET", "/api/journeys/existing/snapshots");
    expect(((await listed.json()) as { data: unknown[] }).data).toHaveLength(0);
    const ok = await fetch(`${server.url}/trpc/${calls(MAX_TRPC_BATCH_CALLS)}?batch=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": json },
      body: body(MAX_TRPC_BATCH_CALLS),
    });
    expect(ok.status).toBe(200);
  });

  it("answers 404 to a path naming procedures other than plainly, running none of them", async () => {
    const snapshotsOf = async () => {
      const listed = await server.call(key, "GET", "/api/journeys/existing/snapshots");
      return ((await listed.json()) as { data: unknown[] }).data.length;
    };
    const before = await snapshotsOf();
    const body = JSON.stringify({ 0: { json: { slug: "existing" } }, 1: { json: { slug: "existing" } } });
    for (const path of [
      "journeys.snapshots.create%2Cjourneys.snapshots.create?batch=1",
      "journeys.snapshots.create,journeys.snapshots.create/?batch=1",
      "journeys%2Esnapshots.create,journeys.snapshots.create?batch=1",
      "journeys.snapshots.create,,journeys.snapshots.create?batch=1",
    ]) {
      const answer = await trpc("POST", path, { body, contentType: json });
      expect(answer, path).toMatchObject({ status: 404, code: "NOT_FOUND" });
      expect(answer.message, path).toBe(`No tRPC procedure at /trpc/${path.slice(0, path.indexOf("?"))}`);
    }
    // The path as sent, not decoded into the name of a procedure that exists.
    expect(await trpc("GET", "journeys%2Elist")).toMatchObject({
      status: 404,
      message: "No tRPC procedure at /trpc/journeys%2Elist",
    });
    expect(await snapshotsOf()).toBe(before);
  });

  it("answers 400 to a request for a streamed answer or with connectionParams, which it does not serve", async () => {
    const input = `?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { json: { limit: 1 } } }))}`;
    const streamed: Record<string, string>[] = [
      { "trpc-accept": "application/jsonl" },
      { accept: "application/json, application/jsonl" },
    ];
    for (const headers of streamed) {
      const res = await fetch(`${server.url}/trpc/journeys.list${input}`, {
        headers: { authorization: `Bearer ${key}`, ...headers },
      });
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await res.json()) as { error: { json: { message: string } } };
      expect(body.error.json.message).toBe(
        "Streamed answers (application/jsonl) are not served: ask for application/json",
      );
    }
    expect(await trpc("GET", "journeys.list", { query: `${input}&connectionParams=1` })).toMatchObject({
      status: 400,
      message: "connectionParams is not supported: send the key in Authorization",
    });
    const plain = await fetch(`${server.url}/trpc/journeys.list${input}`, {
      headers: { authorization: `Bearer ${key}`, accept: "application/json" },
    });
    expect(plain.status).toBe(200);
  });

  it("holds a request calling events.ingest to the 512 KiB of POST /api/events", async () => {
    const events = Array.from({ length: 400 }, (_, i) => ({
      id: crypto.randomUUID(),
      type: "field_focus",
      sessionId: `big-${i}`.padEnd(200, "x"),
      field: "f".repeat(200),
      timestamp: new Date().toISOString(),
    }));
    const body = JSON.stringify({ json: { journey: "existing", events, padding: "p".repeat(320 * 1024) } });
    expect(body.length).toBeGreaterThan(512 * 1024);
    expect(await trpc("POST", "events.ingest", { body, contentType: json })).toEqual({
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      message: "An event batch may be at most 524288 bytes (512 KiB)",
    });
  });

  it("judges the key before the content, as REST does", async () => {
    const reader = await server.key("transport", ["journeys:read"]);
    const cases: [string | undefined, string | undefined, number][] = [
      [reader, "text/plain", 403],
      [undefined, "text/plain", 401],
      ["ody_sk_notakeyatall", json, 401],
      [reader, json, 403],
    ];
    for (const [presented, contentType, status] of cases) {
      const headers: Record<string, string> = {};
      if (presented) headers.authorization = `Bearer ${presented}`;
      if (contentType) headers["content-type"] = contentType;
      const res = await fetch(`${server.url}/trpc/journeys.create`, {
        method: "POST",
        headers,
        body: `{"json":{"slug":${"[".repeat(50)}${"]".repeat(50)}}}`,
      });
      expect(res.status, `${presented} ${contentType}`).toBe(status);
    }
    const deepQuery = await fetch(
      `${server.url}/trpc/journeys.get?input=${encodeURIComponent(`{"json":${"[".repeat(50)}${"]".repeat(50)}}`)}`,
    );
    expect(deepQuery.status).toBe(401);
  });
});

describe("tRPC and REST say the same thing", () => {
  const trpcMessage = async (procedure: string, input: unknown, type: "query" | "mutation") => {
    const encoded = JSON.stringify({ json: input });
    const error =
      type === "query"
        ? await trpc("GET", procedure, { query: `?input=${encodeURIComponent(encoded)}` })
        : await trpc("POST", procedure, { body: encoded, contentType: json });
    return [error.status, error.message];
  };
  const restMessage = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(key, method, path, body);
    return [res.status, ((await res.json()) as { error: string }).error];
  };

  it.each([
    [{ slug: "Not A Slug", displayName: "X" }],
    [{ slug: "a" }],
    [{ slug: "a", displayName: "x".repeat(256) }],
    [{ slug: "a", displayName: "A", sourceSystem: "sap" }],
    [{ slug: "a", displayName: "A", allowedOrigins: ["not a url"] }],
    [{ slug: "a", displayName: "A", steps: [{ stepKey: "s", index: 1.5 }] }],
    [{ slug: "existing", displayName: "Again" }],
  ])("on create with %j", async (body) => {
    expect(await trpcMessage("journeys.create", body, "mutation")).toEqual(
      await restMessage("POST", "/api/journeys/create", body),
    );
  });

  it("on a body that is empty or not JSON, in the words of the procedure's REST route", async () => {
    const restAnswer = async (method: string, path: string, body: string) => {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": json },
        body,
      });
      return [res.status, ((await res.json()) as { error: string }).error];
    };
    const trpcAnswer = async (procedure: string, body: string) => {
      const error = await trpc("POST", procedure, { body, contentType: json });
      return [error.status, error.message];
    };
    const eventsMalformed = [400, "Invalid event data: the body is not valid JSON"];
    expect(await restAnswer("POST", "/api/events", '{"journey": ')).toEqual(eventsMalformed);
    expect(await trpcAnswer("events.ingest", '{"json": {"journey": ')).toEqual(eventsMalformed);
    expect(await restAnswer("POST", "/api/events", "")).toEqual(eventsMalformed);
    expect(await trpcAnswer("events.ingest", "")).toEqual(eventsMalformed);

    const journeyMissing = [400, "Invalid journey data: body must be a JSON object"];
    expect(await restAnswer("POST", "/api/journeys/create", "")).toEqual(journeyMissing);
    expect(await trpcAnswer("journeys.create", "")).toEqual(journeyMissing);
    expect(await restAnswer("PUT", "/api/journeys/existing", "")).toEqual(journeyMissing);
    expect(await trpcAnswer("journeys.update", "")).toEqual(journeyMissing);
    const journeyMalformed = [400, "Malformed JSON in request body"];
    expect(await restAnswer("POST", "/api/journeys/create", '{"slug": ')).toEqual(journeyMalformed);
    expect(await trpcAnswer("journeys.create", '{"json": {"slug": ')).toEqual(journeyMalformed);
  });

  it("on a batch whose body is not JSON, each call in its own procedure's words", async () => {
    const res = await fetch(`${server.url}/trpc/journeys.create,events.ingest?batch=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": json },
      body: '{"0": {"json": ',
    });
    expect(res.status).toBe(400);
    const answers = (await res.json()) as { error: { json: { message: string } } }[];
    expect(answers.map((answer) => answer.error.json.message)).toEqual([
      "Malformed JSON in request body",
      "Invalid event data: the body is not valid JSON",
    ]);
  });

  it("on update, retrieve, delete and list", async () => {
    expect(
      await trpcMessage("journeys.update", { slug: "existing", environment: "dev" }, "mutation"),
    ).toEqual(await restMessage("PUT", "/api/journeys/existing", { environment: "dev" }));
    expect(await trpcMessage("journeys.update", { slug: "missing", displayName: "X" }, "mutation")).toEqual(
      await restMessage("PUT", "/api/journeys/missing", { displayName: "X" }),
    );
    expect(await trpcMessage("journeys.get", { slug: "missing" }, "query")).toEqual(
      await restMessage("GET", "/api/journeys/missing"),
    );
    expect(await trpcMessage("journeys.delete", { slug: "missing" }, "mutation")).toEqual(
      await restMessage("DELETE", "/api/journeys/missing"),
    );
    expect(await trpcMessage("journeys.list", { limit: 1000 }, "query")).toEqual(
      await restMessage("GET", "/api/journeys?limit=1000"),
    );
    expect(await trpcMessage("journeys.list", { cursor: "garbage" }, "query")).toEqual(
      await restMessage("GET", "/api/journeys?cursor=garbage"),
    );
  });
});

// Inputs that once reached the database or a parser unchecked; each must be a 4xx.
const hostileBodies: [string, unknown][] = [
  ["a lone surrogate in displayName", { slug: "lone", displayName: "\u202e\udfff" }],
  [
    "a lone surrogate in a step name",
    { slug: "lone", displayName: "N", steps: [{ stepKey: "a", index: 0, name: "a\ud800b" }] },
  ],
  ["a NUL character in displayName", { slug: "nul", displayName: "a\u0000b" }],
  [
    "a NUL character in a step key",
    { slug: "nul", displayName: "N", steps: [{ stepKey: "a\u0000", index: 0 }] },
  ],
  [
    "a NUL character in a step name",
    { slug: "nul", displayName: "N", steps: [{ stepKey: "a", index: 0, name: "\u0000" }] },
  ],
  [
    "a NUL character in an artifact",
    { slug: "nul", displayName: "N", steps: [{ stepKey: "a", index: 0, requiredArtifacts: ["\u0000"] }] },
  ],
  [
    "a NUL character in an origin",
    { slug: "nul", displayName: "N", allowedOrigins: ["https://a\u0000.example"] },
  ],
  [
    "an index past the integer range",
    { slug: "huge", displayName: "N", steps: [{ stepKey: "a", index: 2 ** 40 }] },
  ],
  [
    "a field count past the integer range",
    { slug: "huge", displayName: "N", steps: [{ stepKey: "a", index: 0, fieldCount: 2 ** 40 }] },
  ],
  ["a number for a string", { slug: 12, displayName: "N" }],
  ["an object for the steps", { slug: "obj", displayName: "N", steps: { 0: { stepKey: "a", index: 0 } } }],
  ["a null body", null],
  ["a string body", "just text"],
];

const forgedCursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("no bad input gives a 500", () => {
  it.each(hostileBodies)("REST create with %s answers 400", async (_, body) => {
    const res = await server.call(key, "POST", "/api/journeys/create", JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^Invalid journey data: /);
  });

  it.each(hostileBodies)("tRPC create with %s answers 400", async (_, body) => {
    const error = await trpc("POST", "journeys.create", {
      body: JSON.stringify({ json: body }),
      contentType: json,
    });
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/^Invalid journey data: /);
  });

  it("REST update with a NUL character answers 400 naming the field", async () => {
    const res = await server.call(key, "PUT", "/api/journeys/existing", { displayName: "a\u0000" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "Invalid journey data: displayName must not contain NUL characters",
    });
  });

  it.each([
    ["/api/journeys/%00", 400],
    ["/api/journeys/a%00b", 400],
    [`/api/journeys/${"a".repeat(300)}`, 404],
    ["/api/journeys/%E2%82%AC", 404],
    ["/api/journeys/%ZZ", 404],
    ["/api/journeys?limit=abc", 400],
    ["/api/journeys?limit=0", 400],
    ["/api/journeys?cursor=%00", 400],
    [`/api/journeys?cursor=${forgedCursor({ createdAt: "99999-01-01", id: "journey_x" })}`, 400],
    [
      `/api/journeys?cursor=${forgedCursor({ createdAt: "2020-01-01T00:00:00.000Z", id: "journey_\u0000" })}`,
      400,
    ],
    [`/api/journeys?cursor=${forgedCursor({ createdAt: "2020-13-45T00:00:00.000Z", id: "journey_x" })}`, 400],
    [`/api/journeys?cursor=${"a".repeat(600)}`, 400],
  ])("GET %s answers %i", async (path, status) => {
    const res = await server.call(key, "GET", path);
    expect(res.status).toBe(status);
    expect(Object.keys((await res.json()) as object)).toEqual(["error"]);
  });

  it("DELETE with an oversized body answers 413, as its OpenAPI entry says", async () => {
    const res = await server.call(key, "DELETE", "/api/journeys/existing", "x".repeat(2_000_000));
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "Request body is larger than 1048576 bytes" });
    expect((await server.call(key, "GET", "/api/journeys/existing")).status).toBe(200);
  });

  it("DELETE and PUT of a slug with a NUL character answer 400", async () => {
    expect((await server.call(key, "DELETE", "/api/journeys/%00")).status).toBe(400);
    expect((await server.call(key, "PUT", "/api/journeys/%00", { displayName: "x" })).status).toBe(400);
  });
});

describe("methods and encodings", () => {
  it("answers 405 with Allow to a path asked with a method it does not take", async () => {
    const cases: [string, string, string][] = [
      ["PATCH", "/api/journeys/existing", "GET, PUT, DELETE, HEAD, OPTIONS"],
      ["POST", "/api/journeys/existing", "GET, PUT, DELETE, HEAD, OPTIONS"],
      ["GET", "/api/events", "POST, OPTIONS"],
      ["DELETE", "/api/journeys/existing/snapshots", "POST, GET, HEAD, OPTIONS"],
      ["POST", "/api/openapi.json", "GET, HEAD, OPTIONS"],
      ["DELETE", "/healthz", "GET, HEAD, OPTIONS"],
      ["POST", "/readyz", "GET, HEAD, OPTIONS"],
      ["PUT", "/docs", "GET, HEAD, OPTIONS"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await server.call(key, method, path);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")?.split(", ").sort(), `${method} ${path}`).toEqual(
        allow.split(", ").sort(),
      );
      expect(await res.json()).toEqual({
        error: `Method ${method} is not allowed on ${path}: it takes ${res.headers.get("allow")}`,
      });
    }
    const unknown = await server.call(key, "PATCH", "/api/nowhere");
    expect(unknown.status).toBe(404);
  });

  it("answers OPTIONS that is no preflight with Allow, and a preflight as CORS says", async () => {
    const plain = await fetch(`${server.url}/api/journeys/existing`, { method: "OPTIONS" });
    expect(plain.status).toBe(204);
    expect(plain.headers.get("allow")?.split(", ").sort()).toEqual(
      ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"].sort(),
    );
    expect((await fetch(`${server.url}/api/nowhere`, { method: "OPTIONS" })).status).toBe(404);
    const preflight = await fetch(`${server.url}/api/journeys/existing`, {
      method: "OPTIONS",
      headers: { origin: "https://elsewhere.example", "access-control-request-method": "PUT" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(preflight.headers.get("allow")?.split(", ").sort()).toEqual(
      ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"].sort(),
    );
    const health = await fetch(`${server.url}/healthz`, { method: "OPTIONS" });
    expect(health.status).toBe(204);
    expect(health.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
  });

  it("tells a batch past both body limits the limit of batches, on REST and tRPC", async () => {
    const message = "An event batch may be at most 524288 bytes (512 KiB)";
    const padding = "p".repeat(1_200_000);
    const rest = await fetch(`${server.url}/api/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": json },
      body: JSON.stringify({ journey: "existing", events: [], padding }),
    });
    expect(rest.status).toBe(413);
    expect(await rest.json()).toEqual({ error: message });
    const body = JSON.stringify({ json: { journey: "existing", events: [], padding } });
    expect(await trpc("POST", "events.ingest", { body, contentType: json })).toMatchObject({
      status: 413,
      message,
    });
  });

  it("refuses a compressed body with 415, on REST and tRPC, and stores nothing", async () => {
    const body = JSON.stringify({ slug: "compressed", displayName: "C" });
    for (const encoding of ["gzip", "br", "deflate"]) {
      const rest = await fetch(`${server.url}/api/journeys/create`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": json, "content-encoding": encoding },
        body,
      });
      expect(rest.status, encoding).toBe(415);
      expect(await rest.json()).toEqual({
        error: `Content-Encoding ${encoding} is not accepted: send the body uncompressed`,
      });
      expect(
        await trpc("POST", "journeys.create", {
          body: JSON.stringify({ json: JSON.parse(body) }),
          contentType: json,
          encoding,
        }),
      ).toMatchObject({ status: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
    }
    expect((await server.call(key, "GET", "/api/journeys/compressed")).status).toBe(404);
    const identity = await fetch(`${server.url}/api/journeys/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": json, "content-encoding": "identity" },
      body,
    });
    expect(identity.status).toBe(201);
  });

  it("judges Content-Encoding only on a request that carries a body, on REST and tRPC", async () => {
    const gzip = { authorization: `Bearer ${key}`, "content-encoding": "gzip" };
    // No body: nothing is encoded, whatever the header says.
    expect((await fetch(`${server.url}/api/journeys/existing`, { headers: gzip })).status).toBe(200);
    expect((await fetch(`${server.url}/api/journeys?limit=1`, { headers: gzip })).status).toBe(200);
    const snapshot = await fetch(`${server.url}/api/journeys/existing/snapshots`, {
      method: "POST",
      headers: gzip,
    });
    expect(snapshot.status).toBe(201);
    const input = encodeURIComponent(JSON.stringify({ json: { slug: "existing" } }));
    const query = await fetch(`${server.url}/trpc/journeys.get?input=${input}`, { headers: gzip });
    expect(query.status).toBe(200);
    // Any request with a body is judged, a GET's included (Content-Length or chunked).
    const head = `GET /api/journeys/existing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Encoding: gzip\r\n`;
    for (const framing of [
      "Content-Length: 2\r\n\r\n{}",
      "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    ]) {
      const { response } = await rawRequest(server.url, [head + framing], { waitMs: 2000 });
      expect(statusOf(response), framing).toBe(415);
      expect(bodyOf(response)).toEqual({
        error: "Content-Encoding gzip is not accepted: send the body uncompressed",
      });
    }
  });
});
