import type { ServerType } from "@hono/node-server";
import { createApiKey } from "@odyssey/api";
import { createDatabase, type DatabaseHandle } from "@odyssey/db";
import { testEngine } from "@odyssey/db/testing";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createApp } from "../src/app";
import { loadConfig } from "../src/env";
import { listen } from "../src/http";
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
import { type PrivatePostgres, startPrivatePostgres } from "./support/private-postgres";

// A real Postgres restart under a mixed load: the app's database lives on a cluster this test
// starts for itself (never the shared server), which it stops for 5 s and starts again, so the
// app meets what a real restart sends (57P01 admin_shutdown, 57P03 cannot_connect_now, refused
// connections). PGlite runs inside the process and cannot be restarted: this file runs on Postgres.

describe.skipIf(testEngine() !== "postgres")("a real Postgres restart under load", () => {
  let cluster: PrivatePostgres | undefined;
  let checkDb: DatabaseHandle | undefined;
  let appDb: DatabaseHandle | undefined;
  let server: ServerType | undefined;
  let url: string;
  let key: string;
  // What the app logs at error level: an unexpected answer's cause, printed if the test fails.
  const { logger, lines: loggedErrors } = recordingLogger("error");

  beforeAll(async () => {
    cluster = await startPrivatePostgres();
    checkDb = createDatabase({ url: cluster.url, maxConnections: 2 });
    await checkDb.migrate();
    key = (await createApiKey(checkDb.db, { orgSlug: "restart", kind: "secret" })).key;
    appDb = createDatabase({ url: cluster.url, maxConnections: 10 });
    const config = loadConfig({
      LOG_LEVEL: "silent",
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      RATE_LIMIT_CONTROL_PER_SECOND: "0",
    });
    const app = createApp({ database: appDb, config, logger });
    const listening = await listen(app.fetch, config, { port: 0, host: "127.0.0.1" }, { logger });
    server = listening.server;
    url = `http://127.0.0.1:${listening.port}`;
  }, 60_000);

  afterAll(async () => {
    try {
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      await appDb?.close();
      await checkDb?.close();
    } finally {
      await cluster?.destroy();
    }
  }, 60_000);

  it("answers 503 with Retry-After while Postgres restarts, never hangs, recovers within 2 s, loses nothing", async () => {
    if (!cluster || !checkDb) throw new Error("the private Postgres cluster did not start");
    const load = createMixedLoad({ url, key, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    await load.warmUp();
    load.start();
    let outage: Outage;
    let stopMs = 0;
    try {
      await sleep(1000);
      const stopping = performance.now();
      await cluster.stop();
      // The outage runs from the moment the server is down (a fast shutdown takes a moment).
      const from = performance.now();
      stopMs = Math.round(from - stopping);
      await sleep(OUTAGE_MS);
      const to = performance.now();
      await cluster.start();
      outage = { kind: "restart", from, to, back: performance.now() };
      await sleep(AFTER_MS);
    } finally {
      await load.stop();
    }

    expectOutageAnswers(
      load,
      [outage],
      {
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        recoveryMs: RECOVERY_PROMISE_MS,
        afterMs: AFTER_MS,
      },
      loggedErrors,
    );
    const stored = await expectNothingLost(checkDb.db, load);
    writeFigures("restart", {
      ...loadFigures(load, [outage], stored),
      stopMs,
      startMs: Math.round((outage.back ?? outage.to) - outage.to),
    });
  }, 60_000);
});
