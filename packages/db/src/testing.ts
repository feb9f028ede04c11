import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { createDatabase, type DatabaseHandle } from "./database";

// Test databases: each test file gets a fresh one, on the engine the test run names.

export type TestEngine = "postgres" | "pglite";

export function testEngine(): TestEngine {
  return process.env.ODYSSEY_TEST_DB === "postgres" ? "postgres" : "pglite";
}

/** A server URL whose database may be used to create and drop test databases. */
export function testServerUrl(): string {
  return process.env.ODYSSEY_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

export interface TestDatabase extends DatabaseHandle {
  /** The database's own URL (postgres only), for tests that start a second process on it. */
  url: string | undefined;
}

/** A new, empty database on the test server, named `<prefix>_<random>`; drop() removes it. */
export async function createServerDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = postgres(testServerUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(testServerUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = postgres(testServerUrl(), { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** A migrated, empty database; close() drops it. */
export async function createTestDatabase(
  options: { engine?: TestEngine; maxConnections?: number } = {},
): Promise<TestDatabase> {
  const engine = options.engine ?? testEngine();
  if (engine === "pglite") {
    const handle = createDatabase();
    await handle.migrate();
    return { ...handle, url: undefined };
  }
  const server = await createServerDatabase("odyssey_test");
  const handle = createDatabase({ url: server.url, maxConnections: options.maxConnections ?? 20 });
  await handle.migrate();
  return {
    ...handle,
    url: server.url,
    async close() {
      await handle.close();
      await server.drop();
    },
  };
}
