import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { DataDirNotWritableError } from "./lock";

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

/**
 * Present in a folder while a new database is being created in it, and listing what the folder
 * held before: a first start that is interrupted (Ctrl-C, a crash, a full disk) leaves a partial
 * database behind, which the next start recognizes as its own and creates again.
 */
const CREATING = ".odyssey-creating";

/**
 * Whether `dataDir` holds an embedded database: PGlite's data folder has its PG_VERSION, and no
 * creation of it was left unfinished.
 */
export const holdsEmbeddedDatabase = (dataDir: string) =>
  existsSync(join(dataDir, "PG_VERSION")) && !existsSync(join(dataDir, CREATING));

/** Marks `dataDir` as holding a database being created; `before` is what it held until now. */
export function beginCreating(dataDir: string, before: ReadonlySet<string>): void {
  writeFileSync(join(dataDir, CREATING), JSON.stringify([...before]), { mode: 0o600 });
}

/** The database in `dataDir` is whole: it opened. */
export function finishCreating(dataDir: string): void {
  rmSync(join(dataDir, CREATING), { force: true });
}

/**
 * Removes what an unfinished creation left in `dataDir`: every entry but those the folder held
 * before it (and the lock). Only under the folder's lock, so no other process is creating it.
 */
export function clearUnfinishedCreation(dataDir: string): void {
  let marker: string;
  try {
    marker = readFileSync(join(dataDir, CREATING), "utf8");
  } catch {
    return; // no creation was left unfinished
  }
  // A marker cut short (a full disk) lists nothing: the folder then held only Odyssey's own
  // leftovers when the creation began, since any other folder is refused (refuseForeignFolder).
  let before: unknown;
  try {
    before = JSON.parse(marker);
  } catch {}
  const kept = new Set(Array.isArray(before) ? before.map(String) : []);
  for (const name of readdirSync(dataDir))
    if (!kept.has(name) && !isOwnLeftover(name))
      rmSync(join(dataDir, name), { recursive: true, force: true });
}

/**
 * A new database is created in a folder only when the folder is absent, empty or holds only
 * Odyssey's own leftovers: anywhere else it would mix a cluster into the user's files (and the
 * template's permission fix would reach them).
 */
export function refuseForeignFolder(dataDir: string): void {
  if (existsSync(join(dataDir, "PG_VERSION")) || existsSync(join(dataDir, CREATING))) return;
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

/** Below this much free space PGlite cannot open a database: it writes a new 16 MiB WAL segment. */
const MIN_FREE_BYTES = 32 * 1024 * 1024;

export class DataDirFullError extends Error {
  constructor(
    readonly dataDir: string,
    readonly freeBytes: number,
  ) {
    super(
      `The disk holding the embedded database folder ${dataDir} has ${(freeBytes / 1024 / 1024).toFixed(1)} MiB free; ` +
        `the database needs at least ${MIN_FREE_BYTES / 1024 / 1024} MiB to open. Free some space or set ODYSSEY_DATA_DIR`,
    );
    this.name = "DataDirFullError";
  }
}

/**
 * Why the embedded database in `dataDir` may have failed to open, when the folder shows it: too
 * little free space, or a file this process may not write (left by a command run as another
 * user). Undefined when neither.
 */
export function explainOpenFailure(dataDir: string): Error | undefined {
  try {
    const { bavail, bsize } = statfsSync(dataDir);
    if (bavail * bsize < MIN_FREE_BYTES) return new DataDirFullError(dataDir, bavail * bsize);
  } catch {}
  const unwritable = firstUnwritable(dataDir);
  return unwritable === undefined
    ? undefined
    : new DataDirNotWritableError(dataDir, "EACCES", relative(dataDir, unwritable) || undefined);
}

/** The first file or folder under `dir` (itself included) this process may not write. */
function firstUnwritable(dir: string): string | undefined {
  const walk = (path: string): string | undefined => {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (!stats || stats.isSymbolicLink()) return undefined;
    try {
      accessSync(path, constants.W_OK);
    } catch {
      return path;
    }
    if (!stats.isDirectory()) return undefined;
    for (const name of readdirSync(path)) {
      const found = walk(join(path, name));
      if (found) return found;
    }
    return undefined;
  };
  try {
    return walk(dir);
  } catch {
    return undefined;
  }
}
