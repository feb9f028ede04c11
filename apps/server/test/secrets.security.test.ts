import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { ServerType } from "@hono/node-server";
import { createApiKey, hashKey, revokeApiKey } from "@odyssey/api";
import { apiKeys, queryRows } from "@odyssey/db";
import { createTestDatabase, type TestDatabase } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { loadConfig } from "../src/env";
import { listen } from "../src/http";
import { createLogger } from "../src/logger";

// Secrets stay secret: no key, no key hash in the logs, even when queries fail; the key table
// holds hashes only.

let database: TestDatabase;
let server: ServerType;
let url: string;
let logText = "";

beforeAll(async () => {
  database = await createTestDatabase();
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logText += chunk.toString();
      done();
    },
  });
  const config = loadConfig({ RATE_LIMIT_CONTROL_PER_SECOND: "0" });
  const logger = createLogger("trace", sink);
  const app = createApp({ database, config, logger });
  const listening = await listen(app.fetch, config, { port: 0, host: "127.0.0.1" }, { logger });
  server = listening.server;
  url = `http://127.0.0.1:${listening.port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await database?.close();
});

const call = (key: string, method: string, path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe("secrets", () => {
  it("never reach the logs: not the keys, not their hashes, not even when a query fails", async () => {
    const writer = await createApiKey(database.db, { orgSlug: "secrets", kind: "secret" });
    const reader = await createApiKey(database.db, {
      orgSlug: "secrets",
      kind: "secret",
      scopes: ["journeys:read"],
    });
    const revoked = await createApiKey(database.db, { orgSlug: "secrets", kind: "secret" });
    await revokeApiKey(database.db, revoked.id);
    const unknown = `ody_sk_${"Q".repeat(43)}`;
    const keys = [writer.key, reader.key, revoked.key, unknown];

    const statuses: number[] = [];
    // Event values a form might leak: the session id and the field name are data, not log text.
    const sessionId = "session-SECRET-4f1d2a";
    const field = "ssn-SECRET-field-9c7e";
    const sendEvents = async () =>
      statuses.push(
        (
          await call(writer.key, "POST", "/api/events", {
            journey: "events-secret",
            events: [
              {
                id: randomUUID(),
                type: "field_focus",
                sessionId,
                stepKey: "a",
                field,
                timestamp: new Date().toISOString(),
              },
              { id: "not-a-uuid", type: "field_error", sessionId, field, timestamp: "yesterday" },
            ],
          })
        ).status,
      );
    const run = async () => {
      await sendEvents();
      for (const key of keys) {
        statuses.push(
          (
            await call(key, "POST", "/api/journeys/create", {
              slug: `s-${statuses.length}`,
              displayName: "S",
            })
          ).status,
        );
        statuses.push((await call(key, "GET", "/api/journeys/s-0")).status);
        statuses.push((await call(key, "GET", "/trpc/journeys.list")).status);
        statuses.push((await call(`${key} `, "GET", "/api/journeys")).status);
      }
    };
    const journey = await call(writer.key, "POST", "/api/journeys/create", {
      slug: "events-secret",
      displayName: "Events",
      steps: [{ stepKey: "a", index: 0 }],
    });
    expect(journey.status).toBe(201);
    await run();
    // Storing events fails: the error quotes the insert's parameters, the event values among them.
    await database.db.execute(sql`alter table event_ids rename to event_ids_away`);
    try {
      await sendEvents();
    } finally {
      await database.db.execute(sql`alter table event_ids_away rename to event_ids`);
    }
    // A failing query: its error names the query and its parameters (here, a key's hash).
    await database.db.execute(sql`alter table api_keys rename to api_keys_away`);
    try {
      await run();
    } finally {
      await database.db.execute(sql`alter table api_keys_away rename to api_keys`);
    }

    expect(statuses).toContain(201);
    expect(statuses).toContain(401);
    expect(statuses).toContain(403);
    expect(statuses).toContain(500);
    expect(logText).toMatch(/"msg":"request"/);
    expect(logText).toMatch(/"msg":"unhandled error"/);
    expect(logText).toMatch(/Failed query/);
    expect(statuses).toContain(200);
    expect(logText).not.toContain(sessionId);
    expect(logText).not.toContain(field);
    for (const key of keys) {
      expect(logText).not.toContain(key);
      expect(logText).not.toContain(key.slice(7));
      expect(logText).not.toContain(hashKey(key));
    }
  });

  it("never reach an answer: a failed query's text and parameters are logged, not sent", async () => {
    const writer = await createApiKey(database.db, { orgSlug: "secrets-answers", kind: "secret" });
    const event = {
      id: randomUUID(),
      type: "session_start",
      sessionId: "s",
      timestamp: new Date().toISOString(),
    };
    const query = encodeURIComponent(JSON.stringify({ json: {} }));
    await database.db.execute(sql`alter table api_keys rename to api_keys_away`);
    const answers: Response[] = [];
    try {
      answers.push(await call(writer.key, "GET", "/api/journeys"));
      answers.push(await call(writer.key, "GET", `/trpc/journeys.list?input=${query}`));
      answers.push(
        await call(writer.key, "POST", "/trpc/events.ingest", { json: { journey: "any", events: [event] } }),
      );
      answers.push(await call(writer.key, "POST", "/api/events", { journey: "any", events: [event] }));
    } finally {
      await database.db.execute(sql`alter table api_keys_away rename to api_keys`);
    }
    for (const answer of answers) {
      expect(answer.status).toBe(500);
      const text = await answer.text();
      // REST: {"error": "…"}; tRPC, in superjson's encoding: {"error": {"json": {"message": "…"}}}.
      const body = JSON.parse(text) as { error: string | { json: { message: string } } };
      const message = typeof body.error === "string" ? body.error : body.error.json.message;
      expect(message).toBe("Internal server error");
      for (const secret of ["Failed query", "api_keys", "select", hashKey(writer.key), writer.orgId])
        expect(text).not.toContain(secret);
    }
  });

  it("are stored as SHA-256 hashes only: no column holds a key or its secret part", async () => {
    const created = await createApiKey(database.db, { orgSlug: "secrets-table", kind: "secret" });
    const rows = await queryRows<Record<string, unknown>>(database.db, sql`select * from ${apiKeys}`);
    expect(rows.length).toBeGreaterThan(0);
    const row = rows.find((r) => r.id === created.id);
    expect(row?.hash).toBe(hashKey(created.key));
    expect(row?.hash).toMatch(/^[0-9a-f]{64}$/);
    const secretPart = created.key.slice(11);
    for (const value of Object.values(row ?? {})) {
      const text = JSON.stringify(value) ?? "";
      expect(text).not.toContain(created.key);
      expect(text).not.toContain(secretPart);
    }
  });
});
