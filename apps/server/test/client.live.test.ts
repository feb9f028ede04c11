import { createServer as createHttpServer, type Server } from "node:http";
import { type AddressInfo, createServer as createTcpServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOdysseyClient,
  type OdysseyClientOptions,
  type TrackedEvent,
} from "../../../packages/client/src";
import { failure } from "../../../packages/client/test/support/failure";
import { uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// @odyssey/client (its source) against the live server, and a stalled one: what only real
// requests show, the rate limit's 429 and the server's own 408 and 431 included.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes of the JSON the client sends for `value` (superjson adds little to plain data). */
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** A TCP listener that takes connections and never answers: a stalled server. */
async function startStalledServer(): Promise<{
  url: string;
  requests: () => number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("data", (chunk) => {
      requests += (chunk.toString("latin1").match(/^(GET|POST) /gm) ?? []).length;
    });
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("@odyssey/client against the live server", () => {
  let server: TestServer;
  let key: string;
  const client = (options: Partial<OdysseyClientOptions> = {}) =>
    createOdysseyClient({ baseUrl: server.url, apiKey: key, ...options });

  beforeAll(async () => {
    server = await startTestServer();
    key = await server.key("client-live");
  });
  afterAll(() => server?.close());

  it("answers a created journey whose times are Dates of their own, not one shared Date", async () => {
    const created = await client().journeys.create.mutate({
      slug: "own-dates",
      displayName: "Own dates",
      steps: [{ stepKey: "a", index: 0 }],
    });
    const step = created.steps[0];
    expect(created.createdAt.getTime()).toBe(created.updatedAt.getTime());
    created.updatedAt.setUTCFullYear(2000);
    expect(created.createdAt.getUTCFullYear()).not.toBe(2000);
    expect(step?.createdAt.getUTCFullYear()).not.toBe(2000);
    expect(step?.updatedAt.getUTCFullYear()).not.toBe(2000);
  });

  describe("concurrent mutations", () => {
    it("ingests eight batches of 500 events sent at once, together past the 512 KiB batch limit", async () => {
      const odyssey = client();
      await odyssey.journeys.create.mutate({ slug: "concurrent-ingest", displayName: "Concurrent ingest" });
      const timestamp = new Date().toISOString();
      const batches = Array.from({ length: 8 }, (_, b) => ({
        journey: "concurrent-ingest",
        events: Array.from(
          { length: 500 },
          (_, i): TrackedEvent => ({
            id: uuid(),
            type: "field_focus",
            sessionId: `session-${b}-${i}`,
            stepKey: "applicant-details",
            field: "business-registration-number",
            timestamp,
          }),
        ),
      }));
      const sizes = batches.map(jsonBytes);
      expect(Math.max(...sizes)).toBeLessThan(512 * 1024);
      expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(512 * 1024);

      const results = await Promise.all(batches.map((batch) => odyssey.events.ingest.mutate(batch)));
      expect(results.map((r) => r.accepted)).toEqual(Array(8).fill(500));
    });

    it("creates two journeys of about 600 KiB each at once, together past the 1 MiB body limit", async () => {
      const odyssey = client();
      const large = (slug: string) => ({
        slug,
        displayName: slug,
        steps: Array.from({ length: 24 }, (_, i) => ({
          stepKey: `step-${i}`,
          index: i,
          requiredArtifacts: Array.from({ length: 100 }, (_, a) => `artifact-${a}-`.padEnd(255, "x")),
        })),
      });
      const inputs = [large("large-one"), large("large-two")];
      for (const input of inputs) expect(jsonBytes(input)).toBeGreaterThan(600 * 1024);
      expect(jsonBytes(inputs[0])).toBeLessThan(1024 * 1024);

      const created = await Promise.all(inputs.map((input) => odyssey.journeys.create.mutate(input)));
      expect(created.map((j) => [j.slug, j.steps.length])).toEqual([
        ["large-one", 24],
        ["large-two", 24],
      ]);
    });

    it("keeps one mutation's failure from failing another sent with it", async () => {
      const odyssey = client();
      const [tooLarge, created] = await Promise.allSettled([
        odyssey.journeys.create.mutate({
          slug: "over-the-limit",
          displayName: "Over the limit",
          allowedOrigins: Array.from({ length: 40_000 }, (_, i) => `https://origin-${i}.example.com`),
        }),
        odyssey.journeys.create.mutate({ slug: "beside-a-failure", displayName: "Beside a failure" }),
      ]);
      expect(tooLarge.status === "rejected" && tooLarge.reason).toMatchObject({
        status: 413,
        code: "PAYLOAD_TOO_LARGE",
      });
      expect(created.status === "fulfilled" && created.value.slug).toBe("beside-a-failure");
    });
  });

  describe("inputs", () => {
    it("sends inputs the server reads, an omitted one included: pages follow nextCursor to the end", async () => {
      const odyssey = client({ apiKey: await server.key("client-paging") });
      for (const slug of ["page-a", "page-b", "page-c"])
        await odyssey.journeys.create.mutate({ slug, displayName: slug });
      expect((await odyssey.journeys.list.query()).data).toHaveLength(3);
      const slugs: string[] = [];
      let cursor: string | undefined;
      do {
        // Batched with a call without input, as queries made in the same tick are.
        const [page, all] = await Promise.all([
          odyssey.journeys.list.query({ limit: 1, cursor }),
          odyssey.journeys.list.query(),
        ]);
        expect(all.data).toHaveLength(3);
        slugs.push(...page.data.map((journey) => journey.slug));
        cursor = page.nextCursor ?? undefined;
      } while (cursor && slugs.length < 10);
      expect(slugs).toEqual(["page-c", "page-b", "page-a"]);
    });
  });

  describe("Idempotency-Key", () => {
    it("is sent with the headers option: the same create replays, another body is 422 UNPROCESSABLE_CONTENT", async () => {
      const withKey = (idempotencyKey: string) => client({ headers: { "Idempotency-Key": idempotencyKey } });
      const input = { slug: "idempotent-create", displayName: "Idempotent" };
      const first = await withKey("create-once-1").journeys.create.mutate(input);
      const again = await withKey("create-once-1").journeys.create.mutate(input);
      expect(again).toEqual(first);
      const other = await failure(
        withKey("create-once-1").journeys.create.mutate({ ...input, displayName: "Another body" }),
      );
      expect(other).toMatchObject({
        status: 422,
        code: "UNPROCESSABLE_CONTENT",
        retryable: false,
        message: "This Idempotency-Key was already used with a different request; use a new key",
      });
      // Without the key, the same create is a conflict.
      expect(await failure(client().journeys.create.mutate(input))).toMatchObject({
        status: 409,
        code: "CONFLICT",
      });
      const invalid = await failure(
        withKey("has spaces").journeys.create.mutate({ ...input, slug: "other" }),
      );
      expect(invalid).toMatchObject({
        status: 400,
        code: "BAD_REQUEST",
        message: "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
      });
    });
  });

  describe("aborts", () => {
    it("rejects an aborted query with ABORTED though another call shares its request", async () => {
      const odyssey = client();
      await odyssey.journeys.create.mutate({ slug: "abort-me", displayName: "Abort me" });
      const controller = new AbortController();
      const aborted = odyssey.journeys.get.query({ slug: "abort-me" }, { signal: controller.signal });
      const other = odyssey.journeys.get.query({ slug: "abort-me" });
      controller.abort();
      expect(await failure(aborted)).toMatchObject({ status: 0, code: "ABORTED", retryable: false });
      expect((await other).slug).toBe("abort-me");
    });

    it("rejects at once against a stalled server, while the call batched with it waits on", async () => {
      const stalled = await startStalledServer();
      try {
        const odyssey = createOdysseyClient({
          baseUrl: stalled.url,
          apiKey: key,
          timeoutMs: 1500,
          retries: 0,
        });
        const controller = new AbortController();
        const aborted = odyssey.journeys.get.query({ slug: "a" }, { signal: controller.signal });
        // Its failure is awaited last: caught from the start.
        const other = failure(odyssey.journeys.get.query({ slug: "b" }));
        while (stalled.requests() === 0) await sleep(5);
        const abortedAt = performance.now();
        controller.abort();
        expect(await failure(aborted)).toMatchObject({ status: 0, code: "ABORTED" });
        expect(performance.now() - abortedAt).toBeLessThan(500);
        expect(await other).toMatchObject({ status: 0, code: "TIMEOUT" });
        expect(stalled.requests()).toBe(1);
      } finally {
        await stalled.close();
      }
    });

    it("rejects a call whose signal is already aborted, batched or not, without waiting", async () => {
      const odyssey = client();
      const signal = AbortSignal.abort();
      const results = await Promise.allSettled([
        odyssey.journeys.get.query({ slug: "abort-me" }, { signal }),
        odyssey.journeys.list.query({ limit: 1 }),
        odyssey.journeys.create.mutate({ slug: "never-created", displayName: "Never" }, { signal }),
      ]);
      expect(results[0].status === "rejected" && results[0].reason).toMatchObject({ code: "ABORTED" });
      expect(results[1].status).toBe("fulfilled");
      expect(results[2].status === "rejected" && results[2].reason).toMatchObject({ code: "ABORTED" });
      expect(await failure(odyssey.journeys.get.query({ slug: "never-created" }))).toMatchObject({
        code: "NOT_FOUND",
      });
    });
  });

  describe("answers that are not Odyssey's", () => {
    it("reports a 200 answer that is not tRPC's (a captive portal's page) as NETWORK_ERROR with its status", async () => {
      let page = { type: "text/html; charset=utf-8", body: "<html><body>Sign in to the Wi-Fi</body></html>" };
      const portal: Server = createHttpServer((_req, res) => {
        res.writeHead(200, { "content-type": page.type });
        res.end(page.body);
      });
      await new Promise<void>((resolve) => portal.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = portal.address() as AddressInfo;
        const odyssey = createOdysseyClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: key, retries: 0 });
        const query = await failure(odyssey.journeys.get.query({ slug: "a" }));
        expect(query).toMatchObject({
          status: 200,
          code: "NETWORK_ERROR",
          retryable: true,
          message: "The server answered HTTP 200 with a text/html body that is not JSON",
        });
        const mutation = await failure(odyssey.journeys.create.mutate({ slug: "a", displayName: "A" }));
        expect(mutation).toMatchObject({ status: 200, code: "NETWORK_ERROR" });
        page = { type: "application/json", body: '{"welcome":"sign in first"}' };
        expect(await failure(odyssey.journeys.get.query({ slug: "a" }))).toMatchObject({
          status: 200,
          code: "NETWORK_ERROR",
        });
      } finally {
        portal.closeAllConnections();
        await new Promise((resolve) => portal.close(resolve));
      }
    });

    it("reports the server's 431 for request headers that are too large as BAD_REQUEST, status 431", async () => {
      const odyssey = client({ headers: { "x-padding": "x".repeat(20_000) }, retries: 0 });
      const error = await failure(odyssey.journeys.get.query({ slug: "a" }));
      expect(error).toMatchObject({
        status: 431,
        code: "BAD_REQUEST",
        message: "Request headers are too large",
        retryable: false,
      });
    });
  });
});

describe("@odyssey/client and the server's 408 for a request not received in time", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ CLIENT_REQUEST_TIMEOUT_MS: "300", HEADERS_TIMEOUT_MS: "300" });
  });
  afterAll(() => server?.close());

  it("rejects with TIMEOUT and status 408", async () => {
    const key = await server.key("slow-sender");
    // A body sent a piece at a time, the rest well after the server's 300 ms for the whole request.
    const slowBody: OdysseyClientOptions["fetch"] = (input, init) => {
      const body = String(init?.body ?? "");
      const pieces = [body.slice(0, 10), body.slice(10)];
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const piece = pieces.shift();
          if (piece === undefined) return controller.close();
          if (pieces.length === 0) await sleep(1500);
          controller.enqueue(new TextEncoder().encode(piece));
        },
      });
      return fetch(input, { ...init, body: stream, duplex: "half" } as RequestInit);
    };
    const odyssey = createOdysseyClient({ baseUrl: server.url, apiKey: key, fetch: slowBody });
    const error = await failure(odyssey.journeys.create.mutate({ slug: "slow", displayName: "Slow" }));
    expect(error).toMatchObject({
      status: 408,
      code: "TIMEOUT",
      message: "The request was not received in time",
      retryable: true,
    });
  });
});

describe("@odyssey/client and the server's rate limit", () => {
  let server: TestServer;
  // One call a second, two at once: a third call in the same second is answered 429, Retry-After: 1.
  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_CONTROL_PER_SECOND: "1", RATE_LIMIT_CONTROL_BURST: "2" });
    const key = await server.key("rate-limited");
    await createOdysseyClient({ baseUrl: server.url, apiKey: key }).journeys.create.mutate({
      slug: "limited",
      displayName: "Limited",
    });
  });
  afterAll(() => server?.close());

  /** A client on a key of its own whose bucket is empty: its next call is refused. */
  async function exhaustedClient(options: Partial<OdysseyClientOptions> = {}) {
    const key = await server.key("rate-limited");
    for (let i = 0; i < 2; i++) await server.call(key, "GET", "/api/journeys?limit=1");
    return createOdysseyClient({ baseUrl: server.url, apiKey: key, ...options });
  }

  it("marks a 429 retryable and carries the server's Retry-After", async () => {
    const odyssey = await exhaustedClient({ retries: 0 });
    const error = await failure(odyssey.journeys.get.query({ slug: "limited" }));
    expect(error).toMatchObject({
      status: 429,
      code: "TOO_MANY_REQUESTS",
      retryable: true,
      retryAfterMs: 1000,
    });
    expect(error.message).toBe("Rate limit exceeded: retry in 1 s");
  });

  it("sends a query again once the Retry-After delay has passed, and it succeeds", async () => {
    const odyssey = await exhaustedClient({ retries: 2 });
    const started = performance.now();
    const journey = await odyssey.journeys.get.query({ slug: "limited" });
    expect(journey.slug).toBe("limited");
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });

  it("does not wait longer than timeoutMs for a retry: the 429 is the answer", async () => {
    const odyssey = await exhaustedClient({ retries: 2, timeoutMs: 500 });
    const started = performance.now();
    const error = await failure(odyssey.journeys.get.query({ slug: "limited" }));
    expect(error).toMatchObject({ status: 429, retryAfterMs: 1000 });
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("never sends a mutation again after a 429", async () => {
    const odyssey = await exhaustedClient({ retries: 2 });
    const error = await failure(
      odyssey.journeys.create.mutate({ slug: "not-retried", displayName: "Not retried" }),
    );
    expect(error).toMatchObject({ status: 429, retryable: true, retryAfterMs: 1000 });
    await sleep(1500);
    const check = await failure(odyssey.journeys.get.query({ slug: "not-retried" }));
    expect(check.code).toBe("NOT_FOUND");
  });
});
