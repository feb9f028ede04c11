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

  it("refuses a database lacking one of this build's migrations older than its latest, and changes nothing", async () => {
    // As a build whose migrations were ordered differently leaves it: drizzle would skip the
    // missing one for good, since it looks only past the newest migration applied.
    const [oldest] = await queryRows<{ hash: string; made: string }>(
      database.db,
      sql`delete from drizzle.__drizzle_migrations
          where id = (select min(id) from drizzle.__drizzle_migrations)
          returning hash, created_at::text as made`,
    );
    const before = await applied();
    try {
      const refusal = database.migrate();
      await expect(refusal).rejects.toBeInstanceOf(UnknownMigrationsError);
      await expect(refusal).rejects.toThrow(
        "The database was migrated by another build of Odyssey, whose migrations are ordered differently: 1 migration of this build's (the first made ",
      );
      expect(await applied()).toBe(before);
    } finally {
      await database.db.execute(
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${oldest?.hash}, ${oldest?.made})`,
      );
    }
    await database.migrate();
    expect(await applied()).toBe((before ?? 0) + 1);
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
