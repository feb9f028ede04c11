import { readMigrationFiles } from "drizzle-orm/migrator";

/**
 * The database was migrated by another build: a newer one, or one whose migrations were numbered
 * or ordered differently. Drizzle's migrator compares only the time of the newest migration
 * applied, so it would skip this build's missing ones, or run applied ones again.
 */
export class UnknownMigrationsError extends Error {}

const advice =
  "Run the build that migrated it, or a newer one; this build would fail on its tables, or change them wrongly.";
const count = (n: number) => (n === 1 ? "1 migration" : `${n} migrations`);

/** Runs one SQL text on the migrating connection and answers its rows. */
type Query = (text: string) => Promise<Record<string, unknown>[]>;

/**
 * Refuses a database whose applied migrations (drizzle's own table) are not all in `folder`, or
 * that lacks one of `folder`'s migrations older than the newest it applied (which drizzle would
 * skip for good).
 */
export async function refuseUnknownMigrations(query: Query, folder: string): Promise<void> {
  const [table] = await query("select to_regclass('drizzle.__drizzle_migrations') is not null as present");
  if (table?.present !== true) return;
  const applied = await query("select hash, created_at::text as made from drizzle.__drizzle_migrations");
  const ours = readMigrationFiles({ migrationsFolder: folder });
  const known = new Set(ours.map((migration) => migration.hash));
  const unknown = applied.filter((row) => !known.has(String(row.hash)));
  if (unknown.length > 0) {
    const newest = new Date(Math.max(...unknown.map((row) => Number(row.made))));
    throw new UnknownMigrationsError(
      `The database was migrated by another build of Odyssey: ${count(unknown.length)} it applied (the latest made ${newest.toISOString()}) ${unknown.length === 1 ? "is" : "are"} not among this build's. ${advice}`,
    );
  }
  const done = new Set(applied.map((row) => String(row.hash)));
  const newestApplied = Math.max(...applied.map((row) => Number(row.made)));
  const skipped = ours.filter(
    (migration) => !done.has(migration.hash) && migration.folderMillis <= newestApplied,
  );
  if (skipped.length > 0) {
    const first = new Date(Math.min(...skipped.map((migration) => migration.folderMillis)));
    throw new UnknownMigrationsError(
      `The database was migrated by another build of Odyssey, whose migrations are ordered differently: ${count(skipped.length)} of this build's (the first made ${first.toISOString()}) ${skipped.length === 1 ? "is" : "are"} older than the latest it applied but not applied, and would never be. ${advice}`,
    );
  }
}
