import { chmodSync, existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export class NotADataDirError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `The folder ${dataDir} is not empty and holds no embedded database (no PG_VERSION); ` +
        "set ODYSSEY_DATA_DIR to a new or empty folder, or to an existing Odyssey data folder",
    );
    this.name = "NotADataDirError";
  }
}

/**
 * What an empty folder may still hold: Odyssey's own lock and socket (left before, or without, a
 * database), a fresh volume's `lost+found`, and hidden files such as `.DS_Store`.
 */
const isOwnLeftover = (name: string) =>
  name.startsWith("odyssey.pid") || name === "admin.sock" || name === "lost+found" || name.startsWith(".");

/** Whether `dataDir` holds an embedded database (PGlite's data folder has its PG_VERSION). */
export const holdsEmbeddedDatabase = (dataDir: string) => existsSync(join(dataDir, "PG_VERSION"));

/**
 * A new database is created in a folder only when the folder is absent, empty or holds only
 * Odyssey's own leftovers: anywhere else it would mix a cluster into the user's files (and the
 * template's permission fix would reach them).
 */
export function refuseForeignFolder(dataDir: string): void {
  if (holdsEmbeddedDatabase(dataDir)) return;
  let names: string[];
  try {
    names = readdirSync(dataDir);
  } catch {
    return; // absent (created later), or unreadable: the lock reports what is wrong
  }
  if (names.some((name) => !isOwnLeftover(name))) throw new NotADataDirError(dataDir);
}

/**
 * Takes every permission but the owner's from the entries of `dir` not in `existing` and from
 * everything under them. lstat, and symlinks are skipped: chmod would change what they point to.
 */
export function keepToOwner(dir: string, existing: ReadonlySet<string>): void {
  const walk = (path: string) => {
    const stats = lstatSync(path);
    if (!stats.isFile() && !stats.isDirectory()) return;
    if (stats.mode & 0o077) chmodSync(path, stats.mode & 0o700);
    if (stats.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  for (const name of readdirSync(dir)) if (!existing.has(name)) walk(join(dir, name));
}
