import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
  init: { body?: string; contentType?: string; query?: string } = {},
): Promise<TrpcError> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (init.contentType) headers["content-type"] = init.contentType;
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

  it("answers input that is JSON but not superjson's encoding with 400", async () => {
    for (const body of [
      "null",
      '{"json":{"slug":"x","displayName":"X"},"meta":{"values":{"json":["custom","x"]}}}',
    ])
      expect(await trpc("POST", "journeys.create", { body, contentType: json })).toEqual({
        status: 400,
        code: "BAD_REQUEST",
        message: "Malformed input: expected superjson's encoding ({ json, meta })",
      });
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

// Inputs that once reached the database or a parser unchecked; each must be a 4xx.
const hostileBodies: [string, unknown][] = [
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
    [`/api/journeys/${"a".repeat(300)}`, 400],
    ["/api/journeys/%E2%82%AC", 404],
    ["/api/journeys/%ZZ", 404],
    ["/api/journeys?limit=abc", 400],
    ["/api/journeys?limit=0", 400],
    ["/api/journeys?cursor=%00", 400],
    [`/api/journeys?cursor=${"a".repeat(600)}`, 400],
  ])("GET %s answers %i", async (path, status) => {
    const res = await server.call(key, "GET", path);
    expect(res.status).toBe(status);
    expect(Object.keys((await res.json()) as object)).toEqual(["error"]);
  });

  it("DELETE and PUT of a slug with a NUL character answer 400", async () => {
    expect((await server.call(key, "DELETE", "/api/journeys/%00")).status).toBe(400);
    expect((await server.call(key, "PUT", "/api/journeys/%00", { displayName: "x" })).status).toBe(400);
  });
});
