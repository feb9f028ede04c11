import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll, beforeAll } from "vitest";
import { migrationsFolder } from "../../src/index";
import { createServerDatabase, testEngine } from "../../src/testing";

// For tests of one migration: the folder as it was before it, and a bare database of the engine
// under test to apply folders to.

/** The migrations folder as it was up to and including `lastTag`. */
function migrationsUpTo(lastTag: string): string {
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

interface Engine {
  migrate(folder: string): Promise<void>;
  query(text: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

async function openEngine(): Promise<Engine> {
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

/**
 * For a describe block that tests the migrations after `lastTag`: a bare database of the engine
 * under test, opened before its tests and closed, with the shortened folder, after them.
 */
export function databaseBefore(lastTag: string) {
  let opened: { engine: Engine; folder: string } | undefined;
  beforeAll(async () => {
    opened = { engine: await openEngine(), folder: migrationsUpTo(lastTag) };
  });
  afterAll(async () => {
    await opened?.engine.close();
    if (opened) rmSync(opened.folder, { recursive: true, force: true });
  });
  const open = () => {
    if (!opened) throw new Error("databaseBefore is used outside its describe block");
    return opened;
  };
  return {
    /** Applies the migrations up to and including `lastTag`. */
    migrateBefore: () => open().engine.migrate(open().folder),
    /** Applies every migration of this build. */
    migrateAll: () => open().engine.migrate(migrationsFolder),
    query: (text: string) => open().engine.query(text),
  };
}
