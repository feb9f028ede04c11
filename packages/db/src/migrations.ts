import { readMigrationFiles } from "drizzle-orm/migrator";

/**
 * The database holds migrations this build does not have: a newer build migrated it, or one
 * whose migrations were numbered differently. Drizzle's migrator compares only the time of the
 * newest migration applied, so it would skip this build's missing ones, or run applied ones again.
 */
export class UnknownMigrationsError extends Error {
  constructor(count: number, newest: Date) {
    super(
      `The database was migrated by another build of Odyssey: ${count === 1 ? "1 migration" : `${count} migrations`} ` +
        `it applied (the latest made ${newest.toISOString()}) ${count === 1 ? "is" : "are"} not among this build's. ` +
        "Run the build that migrated it, or a newer one; this build would fail on its tables, or change them wrongly.",
    );
  }
}

/** Runs one SQL text on the migrating connection and answers its rows. */
type Query = (text: string) => Promise<Record<string, unknown>[]>;

/** Refuses a database whose applied migrations (drizzle's own table) are not all in `folder`. */
export async function refuseUnknownMigrations(query: Query, folder: string): Promise<void> {
  const [table] = await query("select to_regclass('drizzle.__drizzle_migrations') is not null as present");
  if (table?.present !== true) return;
  const applied = await query("select hash, created_at::text as made from drizzle.__drizzle_migrations");
  const known = new Set(readMigrationFiles({ migrationsFolder: folder }).map((migration) => migration.hash));
  const unknown = applied.filter((row) => !known.has(String(row.hash)));
  if (unknown.length === 0) return;
  const newest = Math.max(...unknown.map((row) => Number(row.made)));
  throw new UnknownMigrationsError(unknown.length, new Date(newest));
}
