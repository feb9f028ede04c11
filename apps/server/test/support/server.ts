import { createApiKey, type Scope } from "@odyssey/api";
import { createTestDatabase, type TestDatabase } from "@odyssey/db/testing";
import { type App, createApp } from "../../src/app";
import { loadConfig } from "../../src/env";
import { listen } from "../../src/http";
import { createLogger } from "../../src/logger";

/** Test bodies are read loosely: the assertions are what check their shape. */
export interface TestResponse extends Response {
  // biome-ignore lint/suspicious/noExplicitAny: assertions, not types, check response bodies here
  json(): Promise<any>;
}

export interface TestServer {
  url: string;
  database: TestDatabase;
  /** The app itself, for tests that enumerate its routes. */
  app: App;
  /** A new secret key in the organization `org` (created if new). */
  key(org: string, scopes?: Scope[]): Promise<string>;
  /** fetch against the server with `Authorization: Bearer key` and a JSON body. */
  call(key: string | undefined, method: string, path: string, body?: unknown): Promise<TestResponse>;
  /** Fixes the server's clock (event receipt, analytics "now"); undefined returns to the wall clock. */
  setNow(at: Date | undefined): void;
  close(): Promise<void>;
}

/** The real app over real HTTP on a free port, on a fresh database of the run's engine. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  // Rate limits are off unless a test turns them on: test files drive many requests with one key.
  const config = loadConfig({
    RATE_LIMIT_CONTROL_PER_SECOND: "0",
    RATE_LIMIT_INGEST_PER_SECOND: "0",
    ...env,
    LOG_LEVEL: env.LOG_LEVEL ?? "silent",
  });
  let fixedNow: Date | undefined;
  const clock = () => fixedNow ?? new Date();
  const logger = createLogger(config.logLevel);
  const app = createApp({ database, config, logger, clock });
  const { server, port } = await listen(app.fetch, config, { port: 0, host: "127.0.0.1" }, { logger });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    database,
    app,
    async key(org, scopes) {
      return (await createApiKey(database.db, { orgSlug: org, kind: "secret", scopes })).key;
    },
    call(key, method, path, body) {
      const headers: Record<string, string> = {};
      if (key !== undefined) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      return fetch(`${url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
    },
    setNow(at) {
      fixedNow = at;
    },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await database.close();
    },
  };
}
