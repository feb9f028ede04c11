import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { migrationsFolder } from "../../src/index";
import { createServerDatabase, testEngine } from "../../src/testing";

// For tests of one migration: the folder as it was before it, and a bare database of the engine
// under test to apply folders to.

/** The migrations folder as it was up to and including `lastTag`. */
export function migrationsUpTo(lastTag: string): string {
  const folder = mkdtempSync(join(tmpdir(), "odyssey-migrations-"));
  cpSync(migrationsFolder, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag);
  if (last < 0) throw new Error(`No migration ${lastTag}`);
  journal.entries = journal.entries.slice(0, last + 1);
  writeFileSync(journalPath, JSON.stringify(journal));
  return folder;
}

export interface Engine {
  migrate(folder: string): Promise<void>;
  query(text: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function openEngine(): Promise<Engine> {
  if (testEngine() === "pglite") {
    const client = new PGlite();
    return {
      migrate: (folder) => migratePglite(drizzlePglite(client), { migrationsFolder: folder }),
      query: async (text) => (await client.query<Record<string, unknown>>(text)).rows,
      close: () => client.close(),
    };
  }
  const server = await createServerDatabase("odyssey_migration");
  const client = postgres(server.url, { max: 1, onnotice: () => {} });
  return {
    migrate: (folder) => migratePostgres(drizzlePostgres(client), { migrationsFolder: folder }),
    query: (text) => client.unsafe(text) as Promise<Record<string, unknown>[]>,
    async close() {
      await client.end();
      await server.drop();
    },
  };
}
