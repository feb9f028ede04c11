import { MAX_TRPC_BATCH_CALLS } from "@odyssey/api";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOdysseyClient, type OdysseyClientOptions, OdysseyError } from "../src";
import { MAX_BATCH_URL_LENGTH } from "../src/client";
import { failure } from "./support/failure";
import { type FakeOdyssey, startFakeOdyssey } from "./support/fake-odyssey";

// The client's network behaviour against a scripted tRPC server: which failures are retried,
// how timeouts and aborts surface, and what every failure looks like to the caller.

let fake: FakeOdyssey;
beforeAll(async () => {
  fake = await startFakeOdyssey();
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

const client = (options: Partial<OdysseyClientOptions> = {}) =>
  createOdysseyClient({ baseUrl: fake.url, apiKey: "ody_sk_test", ...options });

describe("requests", () => {
  it("sends the key as a bearer token, extra headers, and decodes dates", async () => {
    const result = await client({ headers: () => ({ "x-request-source": "test" }) }).journeys.get.query({
      slug: "a",
    });
    expect(result).toEqual({ slug: "a", createdAt: new Date("2026-01-02T03:04:05.678Z") });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.path).toMatch(/^\/trpc\/journeys\.get\?batch=1/);
    expect(fake.requests[0]?.headers.authorization).toBe("Bearer ody_sk_test");
    expect(fake.requests[0]?.headers["x-request-source"]).toBe("test");
  });

  it("sends its own key even when the extra headers name an Authorization", async () => {
    const headers = { Authorization: "Bearer ody_sk_other", "x-request-source": "test" };
    await client({ headers }).journeys.get.query({ slug: "a" });
    await client({ headers: () => headers }).journeys.create.mutate({ slug: "a", displayName: "A" });
    for (const request of fake.requests) {
      expect(request.headers.authorization).toBe("Bearer ody_sk_test");
      expect(request.headers["x-request-source"]).toBe("test");
    }
    expect(fake.requests).toHaveLength(2);
  });

  it("batches calls made together into one request", async () => {
    const c = client();
    await Promise.all([c.journeys.get.query({ slug: "a" }), c.journeys.get.query({ slug: "b" })]);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.path).toMatch(/^\/trpc\/journeys\.get,journeys\.get\?batch=1/);
  });

  it("splits a batch of queries whose URL would be longer than 4 KiB", async () => {
    const c = client();
    const slugs = Array.from({ length: 10 }, (_, i) => `${i}${"s".repeat(999)}`);
    const answers = await Promise.all(slugs.map((slug) => c.journeys.get.query({ slug })));
    expect(answers.map((a) => a.slug)).toEqual(slugs);
    expect(fake.requests.length).toBeGreaterThan(1);
    for (const request of fake.requests)
      expect(fake.url.length + request.path.length).toBeLessThanOrEqual(MAX_BATCH_URL_LENGTH);
  });

  it("sends each mutation in a request of its own, even when made together", async () => {
    const c = client();
    await Promise.all([
      c.journeys.create.mutate({ slug: "a", displayName: "A" }),
      c.journeys.create.mutate({ slug: "b", displayName: "B" }),
      c.journeys.get.query({ slug: "a" }),
    ]);
    expect(fake.requests.map((r) => `${r.method} ${r.path.split("?")[0]}`).sort()).toEqual([
      "GET /trpc/journeys.get",
      "POST /trpc/journeys.create",
      "POST /trpc/journeys.create",
    ]);
  });

  it("sends at most the server's MAX_TRPC_BATCH_CALLS calls per request", async () => {
    const c = client();
    const slugs = Array.from({ length: MAX_TRPC_BATCH_CALLS * 2 + 1 }, (_, i) => `s${i}`);
    await Promise.all(slugs.map((slug) => c.journeys.get.query({ slug })));
    const calls = fake.requests.map((r) => (r.path.split("?")[0] ?? "").split(",").length);
    expect(calls).toEqual([MAX_TRPC_BATCH_CALLS, MAX_TRPC_BATCH_CALLS, 1]);
  });

  it("uses the fetch it is given", async () => {
    const seen: string[] = [];
    const result = await client({
      fetch: (input, init) => {
        seen.push(String(input));
        return fetch(input, init);
      },
    }).journeys.create.mutate({ slug: "b", displayName: "B" });
    expect(result.slug).toBe("b");
    expect(seen).toEqual([`${fake.url}/trpc/journeys.create`]);
  });

  it("rejects unusable options at once", () => {
    expect(() => createOdysseyClient({ baseUrl: "odyssey.example.com", apiKey: "k" })).toThrow(TypeError);
    expect(() => createOdysseyClient({ baseUrl: fake.url, apiKey: " " })).toThrow(/apiKey/);
    expect(() => client({ timeoutMs: -1 })).toThrow(/timeoutMs/);
    // A timer cannot wait longer: Node would fire it at once, timing out every request.
    expect(() => client({ timeoutMs: 2 ** 31 })).toThrow(/timeoutMs must be at most 2147483647/);
    expect(() => createOdysseyClient({ baseUrl: fake.url, apiKey: "ody_sk_a\nb" })).toThrow(
      /apiKey and headers must be valid HTTP header values/,
    );
    expect(() => client({ headers: { "a header": "x" } })).toThrow(TypeError);
    expect(() =>
      createOdysseyClient({ baseUrl: fake.url, apiKey: "ody_sk_a\nb", headers: () => ({}) }),
    ).toThrow(/apiKey and headers/);
  });

  it("takes Infinity and the longest timer as no bound and the longest bound", async () => {
    for (const timeoutMs of [Number.POSITIVE_INFINITY, 2 ** 31 - 1]) {
      fake.script("slow");
      expect((await client({ timeoutMs, retries: 0 }).journeys.get.query({ slug: "a" })).slug).toBe("a");
    }
  });

  it("fails a call whose headers cannot be made with NOT_SENT, sending nothing and never retrying", async () => {
    let calls = 0;
    const refresh = () => {
      calls++;
      throw new Error("token refresh failed");
    };
    const thrown = await failure(client({ headers: refresh, retries: 3 }).journeys.get.query({ slug: "a" }));
    expect(thrown).toMatchObject({ status: 0, code: "NOT_SENT", retryable: false });
    expect(thrown.message).toBe("The request was not sent: token refresh failed");
    expect(calls).toBe(1);
    const invalid = await failure(
      client({ headers: () => ({ "x-trace": "a\nb" }), retries: 3 }).journeys.get.query({ slug: "a" }),
    );
    expect(invalid).toMatchObject({ status: 0, code: "NOT_SENT", retryable: false });
    expect(fake.requests).toHaveLength(0);
  });
});

describe("errors", () => {
  it("carries the server's status, code and message", async () => {
    fake.script("NOT_FOUND");
    const error = await failure(client().journeys.get.query({ slug: "a" }));
    expect(error).toMatchObject({
      status: 404,
      code: "NOT_FOUND",
      message: "scripted NOT_FOUND",
      name: "OdysseyError",
    });
    expect(error.data?.code).toBe("NOT_FOUND");
    expect(OdysseyError.is(error)).toBe(true);
    expect(error.retryable).toBe(false);
  });

  it("reports an answer in the REST error shape by its status and message", async () => {
    fake.script("json-413");
    const error = await failure(client().journeys.create.mutate({ slug: "a", displayName: "A" }));
    expect(error).toMatchObject({
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      message: "Request body is larger than 1048576 bytes",
    });
  });

  it("reports a proxy's JSON error whose error is an object by its status and message", async () => {
    fake.script("proxy-401-json-object");
    const error = await failure(client().journeys.get.query({ slug: "a" }));
    expect(error).toMatchObject({ status: 401, code: "UNAUTHORIZED", message: "Unauthorized by proxy" });
    expect(fake.requests).toHaveLength(1);
  });

  it("reports a 200 whose JSON is not a tRPC answer by its status, as no answer from Odyssey", async () => {
    const message = "The server answered HTTP 200 with JSON that is not a tRPC answer";
    fake.script("json-200-array", "json-200-object", "json-200-object");
    for (const call of [
      () => client({ retries: 0 }).journeys.get.query({ slug: "a" }),
      () => client({ retries: 0 }).journeys.get.query({ slug: "a" }),
      () => client().journeys.create.mutate({ slug: "a", displayName: "A" }),
    ])
      expect(await failure(call())).toMatchObject({ status: 200, code: "NETWORK_ERROR", message });
  });

  it("reports an error page that is not JSON by its status", async () => {
    fake.script("html-502");
    const error = await failure(client({ retries: 0 }).journeys.get.query({ slug: "a" }));
    expect(error).toMatchObject({ status: 502, code: "BAD_GATEWAY" });
  });
});

describe("retries", () => {
  it("sends a query again after 5xx answers and network errors", async () => {
    fake.script("SERVICE_UNAVAILABLE", "drop", "html-502");
    const result = await client({ retries: 3 }).journeys.get.query({ slug: "a" });
    expect(result.slug).toBe("a");
    expect(fake.requests).toHaveLength(4);
  });

  it("gives up after `retries` more attempts, with the last error", async () => {
    fake.script("INTERNAL_SERVER_ERROR", "INTERNAL_SERVER_ERROR", "INTERNAL_SERVER_ERROR");
    const error = await failure(client({ retries: 2 }).journeys.get.query({ slug: "a" }));
    expect(error).toMatchObject({ status: 500, code: "INTERNAL_SERVER_ERROR" });
    expect(fake.requests).toHaveLength(3);
  });

  it("waits out a Retry-After given as a date before sending a query again", async () => {
    fake.script("proxy-429-retry-after-date", "proxy-429-retry-after-date");
    const refused = await failure(client({ retries: 0 }).journeys.get.query({ slug: "a" }));
    expect(refused).toMatchObject({ status: 429, code: "TOO_MANY_REQUESTS", retryable: true });
    // The date has whole seconds: between 1 and 2 s from now.
    expect(refused.retryAfterMs).toBeGreaterThan(900);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(2000);
    const started = performance.now();
    const result = await client({ retries: 1 }).journeys.get.query({ slug: "a" });
    expect(result.slug).toBe("a");
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.requests).toHaveLength(3);
  });

  it.each(["BAD_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT"] as const)(
    "never retries a %s answer",
    async (code) => {
      fake.script(code);
      const error = await failure(client({ retries: 3 }).journeys.get.query({ slug: "a" }));
      expect(error.code).toBe(code);
      expect(fake.requests).toHaveLength(1);
    },
  );

  it("never retries a mutation, even after a 5xx or a dropped connection", async () => {
    fake.script("SERVICE_UNAVAILABLE");
    const unavailable = await failure(
      client({ retries: 3 }).journeys.create.mutate({ slug: "a", displayName: "A" }),
    );
    expect(unavailable).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE" });
    fake.script("drop");
    const dropped = await failure(
      client({ retries: 3 }).journeys.create.mutate({ slug: "a", displayName: "A" }),
    );
    expect(dropped).toMatchObject({ status: 0, code: "NETWORK_ERROR" });
    expect(fake.requests).toHaveLength(2);
  });
});

describe("timeouts and aborts", () => {
  it("ends a request that outlives timeoutMs with a TIMEOUT error", async () => {
    fake.script("hang");
    const error = await failure(client({ timeoutMs: 150, retries: 0 }).journeys.get.query({ slug: "a" }));
    expect(error).toMatchObject({ status: 0, code: "TIMEOUT" });
    expect(error.retryable).toBe(true);
  });

  it("retries a query that timed out", async () => {
    fake.script("hang");
    const result = await client({ timeoutMs: 150, retries: 1 }).journeys.get.query({ slug: "a" });
    expect(result.slug).toBe("a");
    expect(fake.requests).toHaveLength(2);
  });

  it("stops at the caller's abort signal, without retrying", async () => {
    fake.script("hang", "hang");
    const controller = new AbortController();
    const pending = client({ retries: 3 }).journeys.get.query({ slug: "a" }, { signal: controller.signal });
    while (fake.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const error = await failure(pending);
    expect(error).toMatchObject({ status: 0, code: "ABORTED" });
    expect(error.retryable).toBe(false);
    expect(fake.requests).toHaveLength(1);
  });

  it("reports an abort with a reason of the caller's own as ABORTED too", async () => {
    fake.script("hang");
    const controller = new AbortController();
    const pending = client({ retries: 3 }).journeys.get.query({ slug: "a" }, { signal: controller.signal });
    while (fake.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error("the user left the page"));
    expect(await failure(pending)).toMatchObject({ status: 0, code: "ABORTED" });
    expect(fake.requests).toHaveLength(1);
  });
});
