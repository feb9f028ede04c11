import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  type Stats,
  statfsSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DataDirNotWritableError } from "./lock";

/** What to do about a data folder that cannot be used as one. */
const useAnotherFolder =
  "set ODYSSEY_DATA_DIR to a new or empty folder, or to an existing Odyssey data folder";

export class NotADataDirError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `The folder ${dataDir} is not empty and holds no embedded database (no PG_VERSION); ${useAnotherFolder}`,
    );
    this.name = "NotADataDirError";
  }
}

export class DataDirIsAFileError extends Error {
  constructor(
    readonly dataDir: string,
    /** The file: the folder's own path, or a folder above it. */
    readonly file: string,
  ) {
    const what =
      file === dataDir
        ? "names a file, not a folder"
        : `names a folder inside ${file}, which is a file, not a folder`;
    super(`ODYSSEY_DATA_DIR ${what}: ${dataDir}; ${useAnotherFolder}`);
    this.name = "DataDirIsAFileError";
  }
}

/**
 * Refuses a data folder path that names a file, or a folder inside one, which creating the
 * folder would otherwise report as a bare EEXIST or ENOTDIR. An absent path is left to be created.
 */
export function refuseFileAsDataDir(dataDir: string): void {
  for (let path = dataDir; ; path = dirname(path)) {
    let stats: Stats | undefined;
    try {
      stats = statSync(path);
    } catch {
      // Absent, or below a file: the nearest path that exists tells which.
    }
    if (stats) {
      if (!stats.isDirectory()) throw new DataDirIsAFileError(dataDir, path);
      return;
    }
    if (dirname(path) === path) return;
  }
}

/**
 * What an empty folder may still hold: Odyssey's own lock and socket (left before, or without, a
 * database), a fresh volume's `lost+found`, and hidden files such as `.DS_Store`.
 */
const isOwnLeftover = (name: string) =>
  name.startsWith("odyssey.pid") || name === "admin.sock" || name === "lost+found" || name.startsWith(".");

/** What a database cluster holds at its top: the names a new database's template puts there. */
const clusterNames = new Set([
  "PG_VERSION",
  "base",
  "global",
  "pg_commit_ts",
  "pg_dynshmem",
  "pg_hba.conf",
  "pg_ident.conf",
  "pg_logical",
  "pg_multixact",
  "pg_notify",
  "pg_replslot",
  "pg_serial",
  "pg_snapshots",
  "pg_stat",
  "pg_stat_tmp",
  "pg_subtrans",
  "pg_tblspc",
  "pg_twophase",
  "pg_wal",
  "pg_xact",
  "postgresql.auto.conf",
  "postgresql.conf",
  "postmaster.opts",
  "postmaster.pid",
]);

// A new database is unpacked from its template into UNPACKING, which becomes UNPACKED once whole;
// its entries are then moved into the folder, PG_VERSION last. So PG_VERSION means a whole
// database, an UNPACKING folder is an unpacking cut short (nothing moved yet), and an UNPACKED
// one is a move to finish. Nothing but these two folders is ever deleted.
const UNPACKING = ".odyssey-unpacking";
const UNPACKED = ".odyssey-unpacked";

/** Whether `dataDir` holds an embedded database (PGlite's data folder has its PG_VERSION). */
export const holdsEmbeddedDatabase = (dataDir: string) => existsSync(join(dataDir, "PG_VERSION"));

/**
 * A new database is created in a folder only when the folder is absent, empty or holds only
 * Odyssey's own leftovers (and, when a move into it was cut short, the cluster entries already
 * moved): anywhere else it would mix a cluster into the user's files.
 */
export function refuseForeignFolder(dataDir: string): void {
  refuseFileAsDataDir(dataDir);
  if (holdsEmbeddedDatabase(dataDir)) return;
  let names: string[];
  try {
    names = readdirSync(dataDir);
  } catch {
    return; // absent (created later), or unreadable: the lock reports what is wrong
  }
  const moving = names.includes(UNPACKED) && isRealFolder(join(dataDir, UNPACKED));
  if (names.some((name) => !isOwnLeftover(name) && !(moving && clusterNames.has(name))))
    throw new NotADataDirError(dataDir);
}

/**
 * Unpacks a new database from `archive` (the template: a gzipped tar of a data folder) into
 * `dataDir`, its files its owner's alone. Only under the folder's lock.
 */
export function unpackDatabase(archive: Buffer, dataDir: string): void {
  const staging = join(dataDir, UNPACKING);
  rmSync(staging, { recursive: true, force: true });
  const entries = [...tarEntries(gunzipSync(archive))];
  try {
    mkdirSync(staging, { recursive: true, mode: 0o700 });
    for (const entry of entries) {
      const target = join(staging, entry.path);
      if (entry.type === "directory") mkdirSync(target, { recursive: true, mode: 0o700 });
      else {
        mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
        writeFileSync(target, entry.data, { mode: 0o600 });
      }
    }
  } catch (error) {
    // Not left to fill the disk until the next start: a full disk is the likeliest failure here.
    rmSync(staging, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === "ENOSPC")
      throw new DataDirFullError(dataDir, freeBytes(dataDir) ?? 0, "created", unpackedBytes(entries));
    throw error;
  }
  renameSync(staging, join(dataDir, UNPACKED));
  finishUnpacking(dataDir);
}

/** What a database unpacked from these entries takes on disk, about. */
const unpackedBytes = (entries: readonly TarEntry[]) =>
  entries.reduce((sum, entry) => sum + Math.ceil(Math.max(entry.data.length, 1) / 4096) * 4096, 0);

/** The bytes free to this user on the disk holding `dataDir`, when it can be read. */
function freeBytes(dataDir: string): number | undefined {
  try {
    const { bavail, bsize } = statfsSync(dataDir);
    return bavail * bsize;
  } catch {
    return undefined;
  }
}

/** Whether `path` is a folder itself, not a symlink to one (whose contents are not this folder's). */
const isRealFolder = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === true;

/**
 * Finishes what a new database's unpacking left undone in `dataDir` (see UNPACKING): an unpacking
 * cut short is removed, a move cut short is finished. Only under the folder's lock.
 */
export function finishUnpacking(dataDir: string): void {
  rmSync(join(dataDir, UNPACKING), { recursive: true, force: true });
  const unpacked = join(dataDir, UNPACKED);
  if (!isRealFolder(unpacked)) return;
  // PG_VERSION moves last: with it in place, the move was finished, and whatever else is left
  // there is not this database's to move over its files.
  if (holdsEmbeddedDatabase(dataDir)) {
    if (readdirSync(unpacked).length === 0) rmdirSync(unpacked);
    return;
  }
  const names = readdirSync(unpacked).filter((name) => name !== "PG_VERSION");
  for (const name of [...names, "PG_VERSION"])
    if (existsSync(join(unpacked, name))) renameSync(join(unpacked, name), join(dataDir, name));
  rmdirSync(unpacked);
}

interface DatabaseEntry {
  relativePath: string;
  path: string;
  stats: Stats;
}

/**
 * The database's files and folders in `dataDir`: its cluster entries and everything under them,
 * each folder before its contents (not the user's `lost+found` or hidden files). lstat, and
 * symlinks are skipped: what they point to is not the database's.
 */
function* databaseEntries(dataDir: string): Generator<DatabaseEntry> {
  function* walk(relativePath: string): Generator<DatabaseEntry> {
    const path = join(dataDir, relativePath);
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (!stats?.isFile() && !stats?.isDirectory()) return;
    yield { relativePath, path, stats };
    if (stats.isDirectory()) for (const name of readdirSync(path)) yield* walk(join(relativePath, name));
  }
  for (const name of readdirSync(dataDir)) if (clusterNames.has(name)) yield* walk(name);
}

/**
 * Takes every permission but the owner's from the database's entries in `dataDir`: files PGlite
 * writes as it opens get its default mode. Each folder is narrowed before its contents are read.
 */
export function keepDatabaseToOwner(dataDir: string): void {
  for (const { path, stats } of databaseEntries(dataDir))
    if (stats.mode & 0o077) chmodSync(path, stats.mode & 0o700);
}

interface TarEntry {
  path: string;
  type: "file" | "directory";
  data: Buffer;
}

/** The entries of a ustar archive holding only files and folders, as PGlite's dumps do. */
function* tarEntries(tar: Buffer): Generator<TarEntry> {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return; // the archive's end
    const text = (start: number, length: number) => {
      const raw = header.subarray(start, start + length);
      const end = raw.indexOf(0);
      return raw.subarray(0, end < 0 ? length : end).toString("utf8");
    };
    const prefix = text(257, 5) === "ustar" ? text(345, 155) : "";
    const path = (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100)).replace(/^\/+|\/+$/g, "");
    const size = Number.parseInt(text(124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] ?? 0);
    if (!path || path.split("/").includes("..") || !Number.isSafeInteger(size))
      throw new Error(`The database template holds an unusable entry: ${JSON.stringify(path)}`);
    offset += 512;
    if (type === "5") yield { path, type: "directory", data: Buffer.alloc(0) };
    else if (type === "0" || type === "\0")
      yield { path, type: "file", data: tar.subarray(offset, offset + size) };
    else throw new Error(`The database template holds an entry of unsupported type "${type}": ${path}`);
    offset += Math.ceil(size / 512) * 512;
  }
}

/** Below this much free space PGlite cannot open a database: it writes a new 16 MiB WAL segment. */
const MIN_FREE_BYTES = 32 * 1024 * 1024;

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

export class DataDirFullError extends Error {
  constructor(
    readonly dataDir: string,
    readonly freeBytes: number,
    readonly doing: "opened" | "created" = "opened",
    readonly needsBytes: number = MIN_FREE_BYTES,
  ) {
    super(
      `The embedded database in ${dataDir} could not be ${doing}, and its disk has ${mib(freeBytes)} MiB free ` +
        `(it needs about ${Math.ceil(needsBytes / 1024 / 1024)} MiB to be ${doing}); free some space or set ODYSSEY_DATA_DIR`,
    );
    this.name = "DataDirFullError";
  }
}

/**
 * Why the embedded database in `dataDir` may have failed to open, when the folder shows it: too
 * little free space, or a file of the database this process may not write (left by a command run
 * as another user). Undefined when neither.
 */
export function explainOpenFailure(dataDir: string): Error | undefined {
  const free = freeBytes(dataDir);
  if (free !== undefined && free < MIN_FREE_BYTES) return new DataDirFullError(dataDir, free);
  const unwritable = firstUnwritable(dataDir);
  return unwritable === undefined ? undefined : new DataDirNotWritableError(dataDir, "EACCES", unwritable);
}

/**
 * The first file or folder of the database in `dataDir` (the folder itself, then its entries as
 * `databaseEntries` walks them) this process may not write, relative to it.
 */
function firstUnwritable(dataDir: string): string | undefined {
  const writable = (path: string) => {
    try {
      accessSync(path, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  try {
    if (!writable(dataDir)) return ".";
    for (const { relativePath, path } of databaseEntries(dataDir)) if (!writable(path)) return relativePath;
  } catch {}
  return undefined;
}
