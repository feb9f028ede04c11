import type { ServerType } from "@hono/node-server";
import { createApiKey } from "@odyssey/api";
import { createDatabase, type DatabaseHandle } from "@odyssey/db";
import { createTestDatabase, type TestDatabase, testEngine } from "@odyssey/db/testing";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createApp } from "../src/app";
import { loadConfig } from "../src/env";
import { listen } from "../src/http";
import { type FaultProxy, startFaultProxy } from "./support/fault-proxy";
import { writeFigures } from "./support/figures";
import { recordingLogger } from "./support/log-lines";
import {
  AFTER_MS,
  createMixedLoad,
  expectNothingLost,
  expectOutageAnswers,
  loadFigures,
  OUTAGE_MS,
  type Outage,
  RECOVERY_PROMISE_MS,
  REQUEST_TIMEOUT_MS,
  sleep,
} from "./support/mixed-load";

// A database outage under a mixed load: the app reaches Postgres through a proxy the test breaks
// (first every connection dropped, then every byte stalled), never the shared server itself.
// PGlite runs inside the process and has no connection to lose: this file runs on Postgres.

describe.skipIf(testEngine() !== "postgres")("a database outage under load", () => {
  let testDb: TestDatabase;
  let proxy: FaultProxy;
  let appDb: DatabaseHandle;
  let server: ServerType;
  let url: string;
  let key: string;
  // What the app logs at error level: an unexpected answer's cause, printed if the test fails.
  const { logger, lines: loggedErrors } = recordingLogger("error");

  beforeAll(async () => {
    testDb = await createTestDatabase();
    proxy = await startFaultProxy({
      host: "127.0.0.1",
      port: Number(new URL(testDb.url ?? "").port || 5432),
    });
    appDb = createDatabase({ url: proxy.proxied(testDb.url ?? ""), maxConnections: 10 });
    const config = loadConfig({
      LOG_LEVEL: "silent",
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      // The load sends without pause, and 503s come back at once: rate limits would answer 429.
      RATE_LIMIT_CONTROL_PER_SECOND: "0",
      RATE_LIMIT_INGEST_PER_SECOND: "0",
    });
    const app = createApp({ database: appDb, config, logger });
    const listening = await listen(app.fetch, config, { port: 0, host: "127.0.0.1" }, { logger });
    server = listening.server;
    url = `http://127.0.0.1:${listening.port}`;
    key = (await createApiKey(testDb.db, { orgSlug: "outage", kind: "secret" })).key;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await appDb?.close();
    await proxy?.close();
    await testDb?.close();
  });

  it("answers 503 with Retry-After while the database is away, never hangs, recovers within 2 s, loses nothing", async () => {
    const load = createMixedLoad({ url, key, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    await load.warmUp();
    load.start();
    const outages: Outage[] = [];
    await sleep(1000);
    for (const kind of ["reset", "stall"] as const) {
      const from = performance.now();
      if (kind === "reset") proxy.reset();
      else proxy.stall();
      await sleep(OUTAGE_MS);
      proxy.restore();
      outages.push({ kind, from, to: performance.now() });
      await sleep(AFTER_MS);
    }
    await load.stop();

    // The next fault starts AFTER_MS after a return, hence the end of each recovery window.
    expectOutageAnswers(
      load,
      outages,
      {
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        recoveryMs: RECOVERY_PROMISE_MS,
        afterMs: AFTER_MS,
      },
      loggedErrors,
    );
    const stored = await expectNothingLost(testDb.db, load);
    writeFigures("outage", {
      ...loadFigures(load, outages, stored),
      connectionsDropped: proxy.droppedConnections,
    });
  });
});
