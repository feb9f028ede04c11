import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { createDatabase, type Database } from "../../packages/db/src/index.ts";

/** The server the benchmark creates its database on; never reconfigured, only used. */
export const serverUrl =
  process.env.ODYSSEY_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function onServer(statement: string): Promise<void> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin.unsafe(statement);
  } finally {
    await admin.end({ timeout: 2 });
  }
}

/** A fresh, empty database for this run; drop() removes it (and is safe to call twice). */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `odyssey_bench_${randomBytes(5).toString("hex")}`;
  await onServer(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      // A run stopped mid-seed may still be opening connections: try again briefly.
      for (let attempt = 1; ; attempt++) {
        try {
          await onServer(`drop database if exists ${name} with (force)`);
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    },
  };
}

/**
 * Runs `work` on a fresh bench database migrated by the service's own code, with a pool of
 * `maxConnections`, then closes the pool and drops the database, also when `work` fails.
 */
export async function withMigratedBenchDatabase<T>(
  maxConnections: number,
  work: (db: Database) => Promise<T>,
): Promise<T> {
  const bench = await createBenchDatabase();
  const handle = createDatabase({ url: bench.url, maxConnections });
  try {
    await handle.migrate();
    return await work(handle.db);
  } finally {
    await handle.close();
    await bench.drop();
  }
}
