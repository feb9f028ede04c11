import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows } from "../src/index";
import { createTestDatabase, type TestDatabase, testEngine } from "../src/testing";

// The service's Postgres sessions run without parallel query: a parallel plan starts worker
// processes, which cost a request milliseconds (docs/benchmarks.md, fix 24).

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await database?.close();
});

describe.skipIf(testEngine() === "pglite")("Postgres sessions", () => {
  it("plan no parallel workers, on every connection of the pool", async () => {
    // More concurrent queries than one connection can answer, so several connections open.
    const settings = await Promise.all(
      Array.from({ length: 8 }, () =>
        queryRows<{ workers: string }>(
          database.db,
          sql`select current_setting('max_parallel_workers_per_gather') as workers, pg_sleep(0.05)`,
        ),
      ),
    );
    expect(settings.map(([row]) => row?.workers)).toEqual(Array(8).fill("0"));
  });
});
