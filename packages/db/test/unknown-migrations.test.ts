import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows, UnknownMigrationsError } from "../src/index";
import { createTestDatabase, type TestDatabase } from "../src/testing";

// A database migrated by another build (a newer one, or one whose migrations were numbered
// differently) is refused at start: drizzle's migrator compares only the newest migration's time,
// so it would skip this build's missing migrations, or run applied ones again.

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await database?.close();
});

const applied = async () =>
  (
    await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    )
  )[0]?.n;

describe("Migrating", () => {
  it("again does nothing on a database this build migrated", async () => {
    const before = await applied();
    await database.migrate();
    expect(await applied()).toBe(before);
  });

  it("refuses a database holding a migration this build does not have, and changes nothing", async () => {
    const before = await applied();
    await database.db.execute(
      sql`insert into drizzle.__drizzle_migrations (hash, created_at) values ('a-newer-build', 1895999999999)`,
    );
    const refusal = database.migrate();
    await expect(refusal).rejects.toBeInstanceOf(UnknownMigrationsError);
    await expect(refusal).rejects.toThrow(
      "The database was migrated by another build of Odyssey: 1 migration it applied (the latest made 2030-01-30T",
    );
    expect(await applied()).toBe((before ?? 0) + 1);
  });
});
