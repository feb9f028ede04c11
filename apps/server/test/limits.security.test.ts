import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOdysseyClient } from "../../../packages/client/src";
import { TokenBuckets } from "../src/guards/rate-limit";
import { createJourney } from "./support/events";
import { bodyOf, rawRequest, statusOf } from "./support/raw-http";
import { startTestServer, type TestServer } from "./support/server";

// Limits on what a client may send and how slowly, the headers every answer carries, and CORS.

const ADMIN_ORIGIN = "https://admin.example.com";

let server: TestServer;
let key: string;

beforeAll(async () => {
  server = await startTestServer({
    ADMIN_ORIGIN,
    MAX_BODY_BYTES: "4096",
    MAX_HEADER_BYTES: "4096",
  });
  key = await server.key("limits");
});
afterAll(() => server.close());

const json = (body: unknown) => ({
  method: "POST",
  headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

describe("security headers", () => {
  const expectSecurityHeaders = (res: Response) => {
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(res.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
  };

  it("are on every kind of answer: success, each error, unknown routes, tRPC, documents", async () => {
    const answers = await Promise.all([
      fetch(`${server.url}/healthz`),
      fetch(`${server.url}/readyz`),
      fetch(`${server.url}/api/openapi.json`),
      fetch(`${server.url}/api/journeys/create`, json({ slug: "headers", displayName: "Headers" })),
      fetch(`${server.url}/api/journeys/create`, json({ slug: "Not A Slug", displayName: "x" })),
      fetch(`${server.url}/api/journeys`),
      fetch(`${server.url}/api/journeys/nope`, { headers: { authorization: `Bearer ${key}` } }),
      fetch(`${server.url}/api/journeys/create`, json("{not json")),
      fetch(`${server.url}/api/journeys/create`, json({ displayName: "x".repeat(5000) })),
      fetch(`${server.url}/api/journeys/create`, {
        ...json("{}"),
        headers: { authorization: `Bearer ${key}`, "content-type": "text/plain" },
      }),
      // Refused for its content without a key: the key's 401 replaces the 415.
      fetch(`${server.url}/api/journeys/create`, {
        ...json("{}"),
        headers: { "content-type": "text/plain" },
      }),
      fetch(`${server.url}/no/such/route`),
      fetch(`${server.url}/trpc/journeys.list`, { headers: { authorization: `Bearer ${key}` } }),
      fetch(`${server.url}/trpc/journeys.list`),
      fetch(`${server.url}/trpc/no.such.procedure`),
      fetch(`${server.url}/api/events`, json({ journey: "headers", events: "none" })),
      fetch(`${server.url}/api/events`, json({ journey: "nope", events: [] })),
    ]);
    expect(answers.map((r) => r.status)).toEqual([
      200, 200, 200, 201, 400, 401, 404, 400, 413, 415, 401, 404, 200, 401, 404, 400, 404,
    ]);
    for (const res of answers) expectSecurityHeaders(res);
  });

  it("echo a well-formed X-Request-Id and replace any other", async () => {
    const echoed = await fetch(`${server.url}/trpc/journeys.list`, {
      headers: { authorization: `Bearer ${key}`, "x-request-id": "req-from-balancer-42" },
    });
    expect(echoed.headers.get("x-request-id")).toBe("req-from-balancer-42");
    const replaced = await fetch(`${server.url}/api/journeys`, {
      headers: { authorization: `Bearer ${key}`, "x-request-id": "has spaces; and more" },
    });
    const replacedId = replaced.headers.get("x-request-id");
    expect(replacedId).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    expect(replacedId).not.toContain("spaces");
  });

  it("give every request its own id when none is sent", async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(`${server.url}/healthz`)));
    const ids = new Set(answers.map((res) => res.headers.get("x-request-id")));
    expect(ids.size).toBe(50);
  });

  it("add the document-only headers to the API reference page", async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expectSecurityHeaders(page);
    expect(page.headers.get("x-xss-protection")).toBe("0");
    expect(page.headers.get("origin-agent-cluster")).toBe("?1");
    expect(page.headers.get("x-permitted-cross-domain-policies")).toBe("none");
  });
});

describe("CORS on the control plane", () => {
  it("answers the admin UI's origin, preflight included", async () => {
    const preflight = await fetch(`${server.url}/api/journeys/create`, {
      method: "OPTIONS",
      headers: {
        origin: ADMIN_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ADMIN_ORIGIN);
    const res = await fetch(`${server.url}/trpc/journeys.list`, {
      headers: { origin: ADMIN_ORIGIN, authorization: `Bearer ${key}` },
    });
    expect(res.headers.get("access-control-allow-origin")).toBe(ADMIN_ORIGIN);
    // The answer depends on Origin, so shared caches must key on it.
    expect(res.headers.get("vary")).toMatch(/(^|, )Origin$/);
  });

  /** The names an answer lets a page read besides the safelisted ones, lower-cased and sorted. */
  const exposedOf = (res: Response) =>
    (res.headers.get("access-control-expose-headers") ?? "")
      .split(/,\s*/)
      .filter((name) => name !== "")
      .map((name) => name.toLowerCase())
      .sort();
  const rateLimitHeaders = ["ratelimit-limit", "ratelimit-policy", "ratelimit-remaining", "ratelimit-reset"];

  it("lets the admin UI read Retry-After, the RateLimit headers and the request id, on a 200 and a 429, over tRPC and REST", async () => {
    const limited = await startTestServer({
      ADMIN_ORIGIN,
      RATE_LIMIT_CONTROL_PER_SECOND: "0.1",
      RATE_LIMIT_CONTROL_BURST: "2",
    });
    try {
      const admin = await limited.key("cors-exposed");
      const get = (path: string) =>
        fetch(`${limited.url}${path}`, {
          headers: { origin: ADMIN_ORIGIN, authorization: `Bearer ${admin}` },
        });
      // REST and tRPC share the control plane's bucket of 2.
      const answers = [];
      for (const path of ["/api/journeys", "/trpc/journeys.list", "/api/journeys", "/trpc/journeys.list"])
        answers.push(await get(path));
      expect(answers.map((res) => res.status)).toEqual([200, 200, 429, 429]);
      const readable = [...rateLimitHeaders, "retry-after", "x-request-id"].sort();
      for (const res of answers) {
        expect(res.headers.get("access-control-allow-origin")).toBe(ADMIN_ORIGIN);
        expect(exposedOf(res)).toEqual(readable);
        // Each one exposed is one the answer carries: all of them on a 429, all but Retry-After on a 200.
        const sent = readable.filter((name) => res.headers.get(name) !== null);
        expect(sent).toEqual(
          res.status === 429 ? readable : readable.filter((name) => name !== "retry-after"),
        );
        await res.arrayBuffer();
      }
    } finally {
      await limited.close();
    }
  });

  it("answers a preflight with only the methods served at its path, for browsers to keep 10 minutes", async () => {
    const preflight = (path: string, method: string) =>
      fetch(`${server.url}${path}`, {
        method: "OPTIONS",
        headers: {
          origin: ADMIN_ORIGIN,
          "access-control-request-method": method,
          "access-control-request-headers": "authorization, content-type",
        },
      });
    const cases: [string, string, string[]][] = [
      ["/trpc/journeys.list", "GET", ["GET", "POST"]],
      ["/trpc/journeys.create", "POST", ["GET", "POST"]],
      ["/api/journeys", "GET", ["GET"]],
      // Also the path of the journey with the slug "create".
      ["/api/journeys/create", "POST", ["DELETE", "GET", "POST", "PUT"]],
      ["/api/journeys/some-journey", "PUT", ["DELETE", "GET", "PUT"]],
      ["/api/journeys/some-journey/snapshots", "POST", ["GET", "POST"]],
    ];
    for (const [path, method, methods] of cases) {
      const res = await preflight(path, method);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(ADMIN_ORIGIN);
      expect(res.headers.get("access-control-allow-methods")?.split(/,\s*/).sort()).toEqual(methods);
      expect(res.headers.get("access-control-max-age")).toBe("600");
    }
  });

  it("gives any other origin nothing a browser would accept", async () => {
    for (const origin of [
      "https://evil.example.com",
      "null",
      `${ADMIN_ORIGIN}.evil.com`,
      "http://admin.example.com",
    ]) {
      const preflight = await fetch(`${server.url}/api/journeys/create`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST" },
      });
      expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
      for (const path of ["/api/journeys", "/trpc/journeys.list"]) {
        const res = await fetch(`${server.url}${path}`, {
          headers: { origin, authorization: `Bearer ${key}` },
        });
        expect(res.headers.get("access-control-allow-origin")).toBeNull();
        expect(res.headers.get("access-control-allow-credentials")).toBeNull();
        expect(res.headers.get("access-control-expose-headers")).toBeNull();
        expect(res.headers.get("vary")).toMatch(/(^|, )Origin$/);
      }
    }
  });
});

describe("request limits", () => {
  it("answers 413 {error} to a body over the limit, with or without Content-Length", async () => {
    const big = JSON.stringify({
      slug: "big",
      displayName: "x",
      steps: Array(200).fill({ stepKey: "k", index: 1 }),
    });
    const declared = await fetch(`${server.url}/api/journeys/create`, json(big));
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ error: expect.stringMatching(/larger than 4096 bytes/) });
    const streamed = await fetch(`${server.url}/api/journeys/create`, {
      ...json(undefined),
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it("answers 431 to a request head over the limit", async () => {
    const res = await fetch(`${server.url}/api/journeys`, { headers: { "x-padding": "p".repeat(8000) } });
    expect(res.status).toBe(431);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await res.json()).toEqual({ error: "Request headers are too large" });
  });

  const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

  /** The message of an error answer: REST's {"error": text} or tRPC's envelope. */
  const messageOf = (body: { error?: unknown }) =>
    typeof body.error === "string"
      ? body.error
      : (body.error as { json?: { message?: string } })?.json?.message;

  describe("with strings limited to 256 characters", () => {
    let strict: TestServer;
    let strictKey: string;
    beforeAll(async () => {
      strict = await startTestServer({ MAX_JSON_STRING_CHARS: "256" });
      strictKey = await strict.key("json-limits");
    });
    afterAll(() => strict.close());

    it.each([
      [
        "nesting past the depth limit",
        `{"slug":"deep","displayName":"x","steps":${nested(100)}}`,
        "Invalid journey data: steps must not be nested more than 32 levels deep",
      ],
      [
        "a string past the length limit, in a field with a lower limit of its own",
        JSON.stringify({ slug: "long", steps: [{ stepKey: "a", index: 0, name: "é".repeat(300) }] }),
        "Invalid journey data: steps[0].name must be at most 255 characters",
      ],
      [
        "a string past the length limit, in a field allowed more",
        JSON.stringify({ slug: "long", allowedOrigins: [`https://${"a".repeat(300)}.example`] }),
        "Invalid journey data: allowedOrigins[0] must be at most 256 characters",
      ],
      [
        "a long string in a member whose name has escapes",
        `{"slug":"long","display\u004eame":"${"x".repeat(300)}"}`,
        "Invalid journey data: displayName must be at most 255 characters",
      ],
      [
        "a NUL character",
        '{"slug":"nul","displayName":"a\\u0000b"}',
        "Invalid journey data: displayName must not contain NUL characters",
      ],
    ])(
      "answers 400 to JSON with %s, naming the field, on REST and tRPC, in each one's error shape",
      async (_name, body, message) => {
        for (const path of [
          "/api/journeys/create",
          "/trpc/journeys.create",
          "/trpc/journeys.create?batch=1",
        ]) {
          const wrapped = path.startsWith("/trpc") ? `{"json":${body}}` : body;
          const res = await fetch(`${strict.url}${path}`, {
            method: "POST",
            headers: { authorization: `Bearer ${strictKey}`, "content-type": "application/json" },
            body: path.endsWith("batch=1") ? `{"0":${wrapped}}` : wrapped,
          });
          expect(res.status, path).toBe(400);
          const answer = (await res.json()) as { error?: unknown } | { error?: unknown }[];
          const single = Array.isArray(answer) ? answer[0] : answer;
          expect(messageOf(single ?? {}), path).toBe(message);
          if (path.startsWith("/api")) expect(answer).toEqual({ error: message });
        }
      },
    );
  });

  it("counts a string's characters as decoded, not its escapes", async () => {
    const limited = await startTestServer({ MAX_JSON_STRING_CHARS: "256" });
    try {
      const key = await limited.key("json-escapes");
      // An origin of `labels` labels of 60 letters, every letter written as a \u escape.
      const origin = (labels: number) => `https://${`${"a".repeat(60)}.`.repeat(labels)}example.com`;
      const body = (labels: number) =>
        `{"slug":"escaped-${labels}","displayName":"x","allowedOrigins":["${origin(labels).replaceAll("a", "\\u0061")}"]}`;
      expect(origin(3).length).toBeLessThan(256);
      expect(body(3).length).toBeGreaterThan(1000);
      const fits = await limited.call(key, "POST", "/api/journeys/create", body(3));
      expect(fits.status).toBe(201);
      expect(((await fits.json()) as { allowedOrigins: string[] }).allowedOrigins).toEqual([origin(3)]);
      const over = await limited.call(key, "POST", "/api/journeys/create", body(4));
      expect(over.status).toBe(400);
      expect(await over.json()).toEqual({
        error: "Invalid journey data: allowedOrigins[0] must be at most 256 characters",
      });
    } finally {
      await limited.close();
    }
  });

  it("names the limit of the field of the call it lies in, in a batch of tRPC calls", async () => {
    const strict = await startTestServer({ MAX_JSON_STRING_CHARS: "256" });
    try {
      const strictKey = await strict.key("json-batch");
      const res = await fetch(`${strict.url}/trpc/journeys.create,events.ingest?batch=1`, {
        method: "POST",
        headers: { authorization: `Bearer ${strictKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          0: { json: { slug: "batch-limit" } },
          1: { json: { journey: "j".repeat(300), events: [] } },
        }),
      });
      expect(res.status).toBe(400);
      expect(messageOf((await res.json()) as { error?: unknown })).toBe(
        "Invalid event data: journey must be at most 255 characters",
      );
    } finally {
      await strict.close();
    }
  });

  it("answers 400 to a tRPC query input nested past the depth limit, before decoding it", async () => {
    const input = encodeURIComponent(`{"json":{"slug":${nested(100)}}}`);
    const res = await fetch(`${server.url}/trpc/journeys.get?input=${input}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(400);
    expect(messageOf((await res.json()) as { error?: unknown })).toBe(
      "Invalid journey data: slug must not be nested more than 32 levels deep",
    );
  });

  it("answers 400 {error} to a body that is not valid UTF-8", async () => {
    const body = Buffer.concat([
      Buffer.from('{"slug":"utf","displayName":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}'),
    ]);
    const head = `POST /api/journeys/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const { response } = await rawRequest(server.url, [head, body]);
    expect(statusOf(response)).toBe(400);
    expect(bodyOf(response)).toEqual({ error: "The request body is not valid UTF-8" });
  });

  /** The status codes of the answers a raw exchange got, in order (pipelined requests). */
  const statuses = (response: string) =>
    [...response.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  const post = (path: string, body: string) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  it("keeps the connection after a body it read, and closes it after one it left unread", async () => {
    await server.call(key, "POST", "/api/journeys/create", { slug: "deleted-kept-alive", displayName: "D" });
    const read = await rawRequest(server.url, [
      post("/api/journeys/create", JSON.stringify({ slug: "kept-alive", displayName: "K" })),
      // A DELETE's body is read too (it must be JSON), though the route ignores it.
      `DELETE /api/journeys/deleted-kept-alive HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]);
    expect(statuses(read.response)).toEqual([201, 200, 200]);
    // A body no route reads (a GET's), and one past the limit: the connection is closed.
    const unread = await rawRequest(server.url, [
      `GET /api/journeys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Length: 2\r\n\r\n{}`,
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ]);
    expect(statuses(unread.response)).toEqual([200]);
    expect(unread.response).toMatch(/\r\nConnection: close\r\n/i);
    expect(unread.closedByServer).toBe(true);
  });

  it("answers 400 {error} to a body that ends before its declared length, and stores nothing", async () => {
    const head = `POST /api/journeys/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`;
    const { response } = await rawRequest(server.url, [head, '{"slug":"cut",'], { halfClose: true });
    expect(statusOf(response)).toBe(400);
    expect(bodyOf(response)).toEqual({ error: "Malformed HTTP request" });
    expect((await server.call(key, "GET", "/api/journeys/cut")).status).toBe(404);
  });

  it("answers 400 {error} to a request no URL can be built from, and 405 to CONNECT", async () => {
    for (const head of [
      "GET /api/journeys HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
      "GET /api/journeys HTTP/1.1\r\nHost: x:99999\r\nConnection: close\r\n\r\n",
      "GET /trpc/journeys.list HTTP/1.1\r\nHost: [x\r\nConnection: close\r\n\r\n",
      "GET /api\\journeys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]) {
      const { response } = await rawRequest(server.url, [head]);
      expect(statusOf(response), head).toBe(400);
      expect(bodyOf(response), head).toEqual({ error: expect.stringMatching(/^Malformed HTTP request: /) });
    }
    const { response } = await rawRequest(server.url, [
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    ]);
    expect(statusOf(response)).toBe(405);
    expect(bodyOf(response)).toEqual({ error: "Method CONNECT is not supported" });
  });

  it("answers 400 {error} to an HTTP/1.1 request without Host, with an empty one or with several, and serves an HTTP/1.0 one", async () => {
    const { response } = await rawRequest(server.url, [
      "GET /api/journeys HTTP/1.1\r\nConnection: close\r\n\r\n",
    ]);
    expect(statusOf(response)).toBe(400);
    expect(response).toMatch(/\r\nContent-Type: application\/json/i);
    expect(response).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
    expect(bodyOf(response)).toEqual({ error: "Malformed HTTP request: missing host header" });
    const empty = await rawRequest(server.url, [
      "GET /api/journeys HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",
    ]);
    expect(statusOf(empty.response)).toBe(400);
    expect(bodyOf(empty.response)).toEqual({ error: "Malformed HTTP request: missing host header" });
    // More than one Host line (RFC 9112 3.2), whatever their case and values.
    for (const hosts of ["Host: a\r\nHost: b", "Host: a\r\nhost: a", "HOST: a\r\nX-Other: 1\r\nhost: b"]) {
      const several = await rawRequest(server.url, [
        `GET /api/journeys HTTP/1.1\r\n${hosts}\r\nConnection: close\r\n\r\n`,
      ]);
      expect(statusOf(several.response), hosts).toBe(400);
      expect(bodyOf(several.response)).toEqual({
        error: "Malformed HTTP request: more than one host header",
      });
    }
    // HTTP/1.0 has no Host requirement (health checkers still send such requests).
    const old = await rawRequest(server.url, ["GET /healthz HTTP/1.0\r\n\r\n"]);
    expect(statusOf(old.response)).toBe(200);
  });

  it("answers 417 {error} to an expectation other than 100-continue", async () => {
    const { response, closedByServer } = await rawRequest(server.url, [
      `POST /api/journeys/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nExpect: foo\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    ]);
    expect(statusOf(response)).toBe(417);
    expect(response).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
    expect(bodyOf(response)).toEqual({ error: "Only the expectation 100-continue is supported" });
    expect(closedByServer).toBe(true);
  });

  it("refuses a body declared past the limit before inviting it with 100 Continue, and invites one within it", async () => {
    const expecting = (length: number, more = "") =>
      `POST /api/journeys/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n${more}\r\n`;
    // The body is never sent: a server that invited it would wait for it.
    const large = await rawRequest(server.url, [expecting(4097)], { waitMs: 3000 });
    expect(large.response).not.toMatch(/100 Continue/);
    expect(statusOf(large.response)).toBe(413);
    expect(large.response).toMatch(/\r\nConnection: close\r\n/i);
    expect(bodyOf(large.response)).toEqual({ error: "Request body is larger than 4096 bytes" });
    expect(large.closedByServer).toBe(true);
    // A batch past both limits is told the limit of batches, as without Expect.
    const batch = await rawRequest(
      server.url,
      [expecting(600_000).replace("/api/journeys/create", "/api/events")],
      { waitMs: 3000 },
    );
    expect(batch.response).not.toMatch(/100 Continue/);
    expect(statusOf(batch.response)).toBe(413);
    expect(bodyOf(batch.response)).toEqual({ error: "An event batch may be at most 524288 bytes (512 KiB)" });

    const body = JSON.stringify({ slug: "continued", displayName: "C" });
    // The body follows a moment later, as from a client that waited for the 100.
    const later = new Promise<string>((resolve) => setTimeout(() => resolve(body), 200));
    const { response } = await rawRequest(server.url, [
      expecting(Buffer.byteLength(body), "Connection: close\r\n"),
      later,
    ]);
    expect(response).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
  });

  it("answers 400 to NUL characters in the path, not a database error", async () => {
    const res = await fetch(`${server.url}/api/journeys/a%00b`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/NUL/) });
  });

  it("treats __proto__ and constructor keys as plain data that changes nothing", async () => {
    const body =
      '{"slug":"proto","displayName":"Proto","__proto__":{"isAdmin":true,"orgId":"org_other"},' +
      '"constructor":{"prototype":{"polluted":true}},"steps":[{"stepKey":"a","index":0,"__proto__":{"index":7}}]}';
    const created = await fetch(`${server.url}/api/journeys/create`, json(body));
    expect(created.status).toBe(201);
    const journey = (await created.json()) as Record<string, unknown> & { steps: { index: number }[] };
    expect(journey).not.toHaveProperty("isAdmin");
    expect(journey.orgId).not.toBe("org_other");
    expect(journey.steps.map((s) => s.index)).toEqual([0]);
    // An update whose only change hides behind __proto__ names no change at all.
    const hidden = await fetch(`${server.url}/api/journeys/proto`, {
      ...json('{"__proto__":{"displayName":"Hacked"},"constructor":{"name":"x"}}'),
      method: "PUT",
    });
    expect(hidden.status).toBe(400);
    const update = await fetch(`${server.url}/api/journeys/proto`, {
      ...json('{"environment":"staging","__proto__":{"displayName":"Hacked"},"constructor":{"name":"x"}}'),
      method: "PUT",
    });
    expect(update.status).toBe(200);
    expect(await update.json()).toMatchObject({ displayName: "Proto", environment: "staging" });
    const trpc = await fetch(
      `${server.url}/trpc/journeys.create`,
      json('{"json":{"slug":"proto2","displayName":"P","__proto__":{"x":1}}}'),
    );
    expect(trpc.status).toBe(200);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("x");
  });
});

describe("slow clients", () => {
  // A server of their own: timeouts this short would cut off ordinary requests on a busy machine.
  let slow: TestServer;
  beforeAll(async () => {
    slow = await startTestServer({ HEADERS_TIMEOUT_MS: "500", CLIENT_REQUEST_TIMEOUT_MS: "1000" });
  });
  afterAll(() => slow.close());

  it("disconnects a client that sends its headers too slowly", async () => {
    const { response, closedByServer } = await rawRequest(
      slow.url,
      ["GET /api/journeys HTTP/1.1\r\n", "Host: x\r\n", "X-Slow: 1\r\n", "X-Slow: 2\r\n", "X-Slow: 3\r\n"],
      { pauseMs: 400, waitMs: 8000 },
    );
    expect(closedByServer).toBe(true);
    expect([undefined, 408]).toContain(statusOf(response));
  });

  it("disconnects a client that sends its body too slowly", async () => {
    const head = `POST /api/journeys/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`;
    const { response, closedByServer } = await rawRequest(slow.url, [head, '{"slug":', '"slow",'], {
      pauseMs: 800,
      waitMs: 8000,
    });
    expect(closedByServer).toBe(true);
    expect([undefined, 408]).toContain(statusOf(response));
    expect((await fetch(`${slow.url}/healthz`)).status).toBe(200);
  });
});

describe("rate limits", () => {
  it("refill a token bucket at the configured rate, up to the burst", () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3 }, () => now);
    expect([1, 2, 3, 4].map(() => buckets.take("a").allowed)).toEqual([true, true, true, false]);
    expect(buckets.take("b").allowed).toBe(true);
    expect(buckets.take("a").retryAfterSeconds).toBe(1);
    now += 500;
    expect(buckets.take("a").allowed).toBe(true);
    expect(buckets.take("a").allowed).toBe(false);
    now += 60_000;
    expect([1, 2, 3, 4].map(() => buckets.take("a").allowed)).toEqual([true, true, true, false]);
  });

  it("charge a batch its cost, and let one larger than the burst through a full bucket, into debt", () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 1, burst: 3 }, () => now);
    expect(buckets.take("a", 2)).toMatchObject({ allowed: true, remaining: 1 });
    expect(buckets.take("a", 2)).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    now += 60_000;
    expect(buckets.take("a", 10)).toMatchObject({ allowed: true, remaining: 0 });
    // 7 tokens in debt: one token is 8 seconds away.
    expect(buckets.take("a")).toMatchObject({ allowed: false, retryAfterSeconds: 8 });
    expect(buckets.waitFor("a")).toBe(8);
    expect(buckets.waitFor("b")).toBe(0);
  });

  it("answer 429 {error} with Retry-After and RateLimit-* per key, control plane and ingestion apart", async () => {
    const limited = await startTestServer({
      RATE_LIMIT_CONTROL_PER_SECOND: "0.1",
      RATE_LIMIT_CONTROL_BURST: "3",
      RATE_LIMIT_INGEST_PER_SECOND: "0.1",
      RATE_LIMIT_INGEST_BURST: "5",
    });
    try {
      const [first, second] = [await limited.key("rl-a"), await limited.key("rl-b")];
      const control = [];
      for (let i = 0; i < 4; i++) control.push(await limited.call(first, "GET", "/api/journeys"));
      expect(control.map((r) => r.status)).toEqual([200, 200, 200, 429]);
      expect(control.map((r) => r.headers.get("ratelimit-remaining"))).toEqual(["2", "1", "0", "0"]);
      const refused = control[3] as Response;
      expect(await refused.json()).toEqual({ error: expect.stringMatching(/^Rate limit exceeded/) });
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get("ratelimit-limit")).toBe("3");
      expect(refused.headers.get("x-content-type-options")).toBe("nosniff");
      expect(refused.headers.get("ratelimit-policy")).toMatch(/^3;w=\d+/);
      expect(Number(refused.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
      // tRPC shares the control plane's bucket; another key has its own; ingestion has its own.
      expect((await limited.call(first, "GET", "/trpc/journeys.list")).status).toBe(429);
      expect((await limited.call(second, "GET", "/api/journeys")).status).toBe(200);
      const ingest = [];
      for (let i = 0; i < 6; i++) ingest.push((await limited.call(first, "POST", "/api/events", {})).status);
      expect(ingest.slice(0, 5)).not.toContain(429);
      expect(ingest[5]).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it("count one key however its header is written, and every call of a tRPC batch", async () => {
    const limited = await startTestServer({
      RATE_LIMIT_CONTROL_PER_SECOND: "0.1",
      RATE_LIMIT_CONTROL_BURST: "4",
    });
    try {
      const key = await limited.key("rl-spelling");
      const statuses = [];
      for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR", "Bearer"])
        statuses.push(
          (await fetch(`${limited.url}/api/journeys`, { headers: { authorization: `${scheme} ${key}` } }))
            .status,
        );
      expect(statuses).toEqual([200, 200, 200, 200, 429]);

      const other = await limited.key("rl-batch");
      const batch = (calls: number) =>
        fetch(
          `${limited.url}/trpc/${Array(calls).fill("journeys.list").join(",")}?batch=1&input=${encodeURIComponent(
            JSON.stringify(Object.fromEntries(Array.from({ length: calls }, (_, i) => [i, { json: {} }]))),
          )}`,
          { headers: { authorization: `Bearer ${other}` } },
        );
      const three = await batch(3);
      expect(three.status).toBe(200);
      expect(three.headers.get("ratelimit-remaining")).toBe("1");
      expect((await batch(2)).status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it("charge each tRPC call to the bucket of what it does: events.ingest to ingestion, the rest to the control plane", async () => {
    // Control: 2 at once, a token every 5 s. Ingestion: 4 at once, a token every 10 s.
    const limited = await startTestServer({
      RATE_LIMIT_CONTROL_PER_SECOND: "0.2",
      RATE_LIMIT_CONTROL_BURST: "2",
      RATE_LIMIT_INGEST_PER_SECOND: "0.1",
      RATE_LIMIT_INGEST_BURST: "4",
    });
    try {
      const setup = await limited.key("rl-calls");
      expect(
        (await limited.call(setup, "POST", "/api/journeys/create", { slug: "calls", displayName: "C" }))
          .status,
      ).toBe(201);
      const batch = { journey: "calls", events: [] };
      const post = (key: string, procedures: string, body: unknown) =>
        fetch(`${limited.url}/trpc/${procedures}`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const listJourneys = (key: string) => limited.call(key, "GET", "/trpc/journeys.list");
      const limitOf = (res: Response) => ({
        status: res.status,
        policy: res.headers.get("ratelimit-policy"),
        remaining: res.headers.get("ratelimit-remaining"),
        retryAfter: res.headers.get("retry-after"),
      });

      // Through the client, more batches than the control plane's burst.
      const key = await limited.key("rl-calls");
      const odyssey = createOdysseyClient({ baseUrl: limited.url, apiKey: key, retries: 0 });
      for (let i = 0; i < 3; i++) expect((await odyssey.events.ingest.mutate(batch)).accepted).toBe(0);
      expect(limitOf(await post(key, "events.ingest", { json: batch }))).toEqual({
        status: 200,
        policy: '4;w=40;name="ingest"',
        remaining: "0",
        retryAfter: null,
      });
      // The control plane's bucket is untouched; ingestion's is shared with POST /api/events.
      expect(limitOf(await listJourneys(key))).toMatchObject({ status: 200, remaining: "1" });
      expect(limitOf(await post(key, "events.ingest", { json: batch }))).toMatchObject({
        status: 429,
        policy: '4;w=40;name="ingest"',
        retryAfter: "10",
      });
      expect((await limited.call(key, "POST", "/api/events", batch)).status).toBe(429);
      await expect(odyssey.events.ingest.mutate(batch)).rejects.toMatchObject({
        status: 429,
        retryAfterMs: 10_000,
      });

      // A batch mixing both is refused whole when one bucket is short, and charges neither.
      const mixed = "journeys.snapshots.create,events.ingest?batch=1";
      const mixedBody = { 0: { json: { slug: "calls" } }, 1: { json: batch } };
      expect(limitOf(await post(key, mixed, mixedBody))).toMatchObject({ status: 429, retryAfter: "10" });
      expect(limitOf(await listJourneys(key))).toMatchObject({ status: 200, remaining: "0" });
      expect(limitOf(await listJourneys(key))).toMatchObject({
        status: 429,
        policy: '2;w=10;name="control"',
        retryAfter: "5",
      });
      // Both short: the wait is the longer one.
      expect(limitOf(await post(key, mixed, mixedBody))).toMatchObject({ status: 429, retryAfter: "10" });

      // Otherwise each call is charged to its own bucket; the headers tell the one with fewer left.
      const other = await limited.key("rl-calls");
      const both = await post(other, "journeys.snapshots.create,events.ingest,events.ingest?batch=1", {
        ...mixedBody,
        2: { json: batch },
      });
      expect(limitOf(both)).toEqual({
        status: 200,
        policy: '2;w=10;name="control"',
        remaining: "1",
        retryAfter: null,
      });
      expect(limitOf(await limited.call(other, "POST", "/api/events", batch))).toMatchObject({
        status: 200,
        policy: '4;w=40;name="ingest"',
        remaining: "1",
      });
      expect(limitOf(await listJourneys(other))).toMatchObject({ status: 200, remaining: "0" });
    } finally {
      await limited.close();
    }
  });

  it("refuse an address that keeps presenting unknown keys, before looking them up", async () => {
    const limited = await startTestServer({
      RATE_LIMIT_CONTROL_PER_SECOND: "0.1",
      RATE_LIMIT_CONTROL_BURST: "3",
    });
    try {
      const made = (i: number) => `ody_sk_madeUpKey${i}xxxxxxxxxxxxxxxxxx`;
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await limited.call(made(i), "GET", "/api/journeys")).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const refused = await limited.call(made(9), "GET", "/trpc/journeys.list");
      expect(refused.status).toBe(429);
      const body = (await refused.json()) as { error: { json: { message: string } } };
      expect(body.error.json.message).toMatch(/^Too many requests with invalid API keys: retry in \d+ s$/);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });

  it("let keys that worked through from an address refused for made-up keys", async () => {
    const limited = await startTestServer({
      RATE_LIMIT_CONTROL_PER_SECOND: "0.1",
      RATE_LIMIT_CONTROL_BURST: "3",
      RATE_LIMIT_INGEST_PER_SECOND: "1000",
    });
    try {
      const [reader, other, unused, sender] = await Promise.all(
        ["lockout-a", "lockout-b", "lockout-c", "lockout-e"].map((org) => limited.key(org)),
      );
      const forbidden = await limited.key("lockout-d", ["events:write"]);
      expect((await limited.call(reader, "GET", "/api/journeys")).status).toBe(200);
      expect((await limited.call(other, "GET", "/trpc/journeys.list")).status).toBe(200);
      // Verified on the ingestion route only: a key that works is let through on every route.
      await createJourney(limited, await limited.key("lockout-e"), "lockout-journey");
      const senderBatch = { journey: "lockout-journey", events: [] };
      expect((await limited.call(sender, "POST", "/api/events", senderBatch)).status).toBe(200);
      expect((await limited.call(forbidden, "GET", "/api/journeys")).status).toBe(403);
      // A made-up key answered anything but 401 (no route here) does not count as one that worked.
      const madeUp = "ody_sk_madeUpKeyNoRoutexxxxxxxxxxxxxx";
      expect((await limited.call(madeUp, "GET", "/api/nowhere")).status).toBe(404);
      for (let i = 0; i < 3; i++)
        expect(
          (await limited.call(`ody_sk_madeUpKey${i}xxxxxxxxxxxxxxxxxx`, "GET", "/api/journeys")).status,
        ).toBe(401);
      expect((await limited.call(madeUp, "GET", "/api/journeys")).status).toBe(429);
      expect((await limited.call(unused, "GET", "/api/journeys")).status).toBe(429);
      expect((await limited.call(reader, "GET", "/api/journeys")).status).toBe(200);
      expect((await limited.call(other, "GET", "/api/journeys")).status).toBe(200);
      expect((await limited.call(sender, "GET", "/api/journeys")).status).toBe(200);
      expect((await limited.call(forbidden, "GET", "/api/journeys")).status).toBe(403);
    } finally {
      await limited.close();
    }
  });

  it("send RateLimit headers on HEAD answers as on GET", async () => {
    const limited = await startTestServer({ RATE_LIMIT_CONTROL_PER_SECOND: "100" });
    try {
      const reader = await limited.key("head-limits");
      const headersOf = async (method: string) => {
        const res = await fetch(`${limited.url}/api/journeys`, {
          method,
          headers: { authorization: `Bearer ${reader}` },
        });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        return ["ratelimit-policy", "ratelimit-limit", "ratelimit-reset"].map((name) =>
          res.headers.get(name),
        );
      };
      const onGet = await headersOf("GET");
      expect(onGet.every((value) => typeof value === "string")).toBe(true);
      expect(await headersOf("HEAD")).toEqual(onGet);
    } finally {
      await limited.close();
    }
  });
});
