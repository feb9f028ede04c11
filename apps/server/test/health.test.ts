import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { createApiKey } from "@odyssey/api";
import { createDatabase, type DatabaseHandle } from "@odyssey/db";
import { testEngine, testServerUrl } from "@odyssey/db/testing";
import { createTRPCUntypedClient, httpLink } from "@trpc/client";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { loadConfig } from "../src/env";
import { createLogger } from "../src/logger";
import { startTestServer, type TestServer } from "./support/server";

// Liveness and readiness, and what callers get while the database cannot answer.

const config = loadConfig({ LOG_LEVEL: "silent" });
const logger = createLogger("silent");

/** A port nothing listens on: the OS hands one out, and it is closed again at once. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A database handle of the run's engine that cannot answer: a closed port, or a closed PGlite. */
async function unreachableDatabase(): Promise<DatabaseHandle> {
  if (testEngine() === "postgres")
    return createDatabase({ url: `postgres://postgres@127.0.0.1:${await closedPort()}/odyssey` });
  const handle = createDatabase();
  await handle.close();
  return handle;
}

describe("with the database reachable", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it("is live and ready", async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: "ok" }]);
    const ready = await fetch(`${server.url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true }]);
  });
});

describe("with the database unreachable", () => {
  let database: DatabaseHandle;
  const app = async (path: string, init?: RequestInit) => {
    const res = await createApp({ database, config, logger }).request(path, init);
    const body = (await res.json()) as Record<string, unknown> & { error?: { json?: unknown } };
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body };
  };
  beforeAll(async () => {
    database = await unreachableDatabase();
  });
  afterAll(() => (testEngine() === "postgres" ? database.close() : undefined));

  it("is live but not ready", async () => {
    expect(await app("/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(await app("/readyz")).toMatchObject({ status: 503, body: { ready: false } });
  });

  it("answers a CORS preflight for events 503 with Retry-After, never 500", async () => {
    const preflight = {
      method: "OPTIONS",
      headers: { origin: "https://forms.example.com", "access-control-request-method": "POST" },
    };
    expect(await app("/api/events", preflight)).toEqual({
      status: 503,
      retryAfter: "1",
      body: { error: "The database is unavailable; retry shortly" },
    });
  });

  it("lets the admin UI read a 503's Retry-After; /api/events answers its 503 without Access-Control-Allow-Origin", async () => {
    const adminOrigin = "https://admin.example.com";
    const withAdmin = loadConfig({ LOG_LEVEL: "silent", ADMIN_ORIGIN: adminOrigin });
    const secret = `Bearer ody_sk_${"x".repeat(32)}`;
    const batch = JSON.stringify({ journey: "some-journey", key: `ody_pk_${"x".repeat(32)}`, events: [] });
    const requests: [string, RequestInit, string | null][] = [
      [
        "/api/journeys/some-journey",
        { headers: { origin: adminOrigin, authorization: secret } },
        adminOrigin,
      ],
      [
        `/trpc/journeys.get?input=${encodeURIComponent(JSON.stringify({ json: { slug: "x" } }))}`,
        { headers: { origin: adminOrigin, authorization: secret } },
        adminOrigin,
      ],
      [
        "/api/events",
        {
          method: "POST",
          headers: { origin: "https://forms.example.com", "content-type": "text/plain" },
          body: batch,
        },
        null,
      ],
    ];
    for (const [path, init, origin] of requests) {
      const res = await createApp({ database, config: withAdmin, logger }).request(path, init);
      expect(res.status, path).toBe(503);
      expect(res.headers.get("retry-after"), path).toBe("1");
      expect(res.headers.get("access-control-allow-origin"), path).toBe(origin);
      const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/,\s*/);
      if (origin) expect(exposed, path).toContain("retry-after");
      await res.arrayBuffer();
    }
  });

  it("answers API calls 503 with Retry-After, never 500", async () => {
    const headers = { authorization: `Bearer ody_sk_${"x".repeat(32)}` };
    expect(await app("/api/journeys/some-journey", { headers })).toEqual({
      status: 503,
      retryAfter: "1",
      body: { error: "The database is unavailable; retry shortly" },
    });
    const trpc = await app(
      `/trpc/journeys.get?input=${encodeURIComponent(JSON.stringify({ json: { slug: "x" } }))}`,
      {
        headers,
      },
    );
    expect(trpc.status).toBe(503);
    expect(trpc.body.error?.json).toMatchObject({
      message: "The database is unavailable; retry shortly",
      data: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 },
    });
  });
});

describe.runIf(testEngine() === "postgres")("a Postgres outage on a running server", () => {
  let server: TestServer;
  let key: string;
  const admin = () => postgres(testServerUrl(), { max: 1, onnotice: () => {} });
  const databaseName = () => new URL(server.database.url ?? "").pathname.slice(1);
  const status = async (path: string) => (await fetch(`${server.url}${path}`)).status;

  beforeAll(async () => {
    server = await startTestServer();
    key = await server.key("outage");
  });
  afterAll(() => server.close());

  it("makes the server not ready until the database is back, then ready again", async () => {
    expect(await status("/readyz")).toBe(200);
    const sql = admin();
    try {
      await sql.unsafe(`alter database ${databaseName()} allow_connections false`);
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${databaseName()}`;
      expect(await status("/readyz")).toBe(503);
      expect(await status("/healthz")).toBe(200);
      const res = await server.call(key, "GET", "/api/journeys");
      expect([res.status, await res.json()]).toEqual([
        503,
        { error: "The database is unavailable; retry shortly" },
      ]);
    } finally {
      await sql.unsafe(`alter database ${databaseName()} allow_connections true`);
      await sql.end();
    }
    // Bounded: the pool reconnects within a few short backoffs.
    let ready = 0;
    for (let attempt = 0; attempt < 50 && ready !== 200; attempt++) {
      ready = await status("/readyz");
      if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(ready).toBe(200);
    expect((await server.call(key, "GET", "/api/journeys")).status).toBe(200);
  });
});

describe("a request past its deadline", () => {
  let server: TestServer;
  let key: string;
  let release: () => void = () => {};
  let held: Promise<unknown> = Promise.resolve();
  beforeAll(async () => {
    server = await startTestServer({ REQUEST_TIMEOUT_MS: "300" });
    key = (await createApiKey(server.database.db, { orgSlug: "deadline", kind: "secret" })).key;
    // A transaction holding the journeys table keeps every journey query waiting.
    let locked: () => void = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    held = server.database.db.transaction(async (tx) => {
      if (testEngine() === "postgres") await tx.execute(sql`lock table journeys in access exclusive mode`);
      locked();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await isLocked;
  });
  afterAll(async () => {
    release();
    await held;
    await server.close();
  });

  it("is answered 503 with Retry-After over REST and tRPC", async () => {
    const res = await server.call(key, "GET", "/api/journeys/stuck");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({ error: "The request took longer than 300 ms" });

    const client = createTRPCUntypedClient({
      links: [
        httpLink({
          url: `${server.url}/trpc`,
          transformer: superjson,
          headers: { authorization: `Bearer ${key}` },
        }),
      ],
    });
    await expect(client.query("journeys.get", { slug: "stuck" })).rejects.toMatchObject({
      message: "The request took longer than 300 ms",
      data: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 },
    });
  });

  it("tells the sender of a write that it may still take effect", async () => {
    const message =
      "The request took longer than 300 ms; it may still take effect, so check before sending it again (an Idempotency-Key or event ids make a repeat safe)";
    const res = await server.call(key, "POST", "/api/journeys/create", { slug: "late", displayName: "Late" });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({ error: message });
    const trpc = await fetch(`${server.url}/trpc/journeys.create`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { slug: "late-trpc", displayName: "Late" } }),
    });
    expect(trpc.status).toBe(503);
    const body = (await trpc.json()) as { error: { json: { message: string } } };
    expect(body.error.json.message).toBe(message);
  });
});
