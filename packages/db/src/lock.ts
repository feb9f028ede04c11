import { createHash } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`The embedded database in ${dataDir} is open in another process (pid ${pid})`);
    this.name = "DataDirLockedError";
  }
}

export class DataDirNotWritableError extends Error {
  constructor(
    readonly dataDir: string,
    readonly code: string,
    /** The file or folder under `dataDir` that may not be written, when it is not the folder itself. */
    readonly entry?: string,
  ) {
    super(
      `The embedded database folder ${dataDir} is not writable (${code}${entry ? `: ${entry}` : ""}); make it writable or set ODYSSEY_DATA_DIR`,
    );
    this.name = "DataDirNotWritableError";
  }
}

export function lockFilePath(dataDir: string): string {
  return join(dataDir, "odyssey.pid");
}

/** A lock's holder: its pid and, where /proc tells it, when that process started. */
export interface Holder {
  pid: number;
  startedAt: string | undefined;
  /** The lock file's text, to tell this lock from one written after it. */
  text: string;
}

/**
 * When the process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat);
 * undefined without /proc or without such a process. A pid that is reused, or that names a
 * thread of another process, has another start time than the process that wrote the lock.
 */
function startedAt(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function isAlive(holder: Holder): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  if (holder.startedAt !== undefined && startedAt(process.pid) !== undefined)
    return startedAt(holder.pid) === holder.startedAt;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(path: string): Holder | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const [pid, started] = text.trim().split(" ");
  return { pid: Number.parseInt(pid ?? "", 10), startedAt: started || undefined, text };
}

/** The pid holding the data folder, or null when it is free (a stale lock counts as free). */
export function dataDirHolder(dataDir: string): number | null {
  const holder = readHolder(lockFilePath(dataDir));
  return holder && holder.pid !== process.pid && isAlive(holder) ? holder.pid : null;
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code;

/** Blocks this thread for `ms` (the lock is taken synchronously, before anything else runs). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * PGlite is a single-process database: two processes opening one data folder corrupt it, and
 * one loses what it wrote. The lock file makes the second one fail with a clear error instead.
 * The file is created whole or not at all (written aside, then hard-linked into place, which
 * fails if it exists), so no process reads a half-written lock as stale. A stale lock (its
 * process gone) is removed by one process only (`takeOver`), and the folder then goes to
 * whichever process links its lock first.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = lockFilePath(dataDir);
  const mine = `${process.pid} ${startedAt(process.pid) ?? ""}`.trim();
  const written = `${path}.${process.pid}.new`;
  try {
    // A folder created here is its owner's alone, and so is the admin socket it will hold.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Its owner's alone, like the rest of the folder (the template's permission fix leaves it be).
    writeFileSync(written, mine, { mode: 0o600 });
  } catch (error) {
    const code = codeOf(error);
    if (code === "EACCES" || code === "EROFS" || code === "EPERM")
      throw new DataDirNotWritableError(dataDir, code);
    throw error;
  }
  try {
    // Long enough for another process to finish taking over a stale lock on a loaded machine.
    const giveUpAt = Date.now() + 5000;
    while (Date.now() < giveUpAt) {
      try {
        linkSync(written, path);
        return () => {
          if (readHolder(path)?.text === mine) rmSync(path, { force: true });
        };
      } catch (error) {
        if (codeOf(error) !== "EEXIST") throw error;
      }
      const holder = readHolder(path);
      if (!holder) continue; // released meanwhile
      if (isAlive(holder)) throw new DataDirLockedError(dataDir, holder.pid);
      if (!takeOver(path, holder, written)) pause(5);
    }
    throw new DataDirLockedError(dataDir, dataDirHolder(dataDir) ?? -1);
  } finally {
    rmSync(written, { force: true });
  }
}

/**
 * Removes the stale lock `stale` from `path`, unless another process is already doing so
 * (then answers false). Only the process that creates the takeover claim named after that
 * lock's text (whole, by hard link, so exactly one can) removes it, and only while `path` still
 * holds that text, which no live process can write: a lock linked in since is never removed.
 */
export function takeOver(path: string, stale: Holder, written: string): boolean {
  const claim = `${path}.takeover-${createHash("sha256").update(stale.text).digest("hex").slice(0, 16)}`;
  try {
    linkSync(written, claim);
  } catch (error) {
    if (codeOf(error) !== "EEXIST") throw error;
    // A claimant that died while taking over left its claim: that claim is stale in turn.
    const claimant = readHolder(claim);
    if (claimant && !isAlive(claimant)) removeStaleClaim(claim, claimant);
    return false;
  }
  try {
    if (readHolder(path)?.text === stale.text) unlinkSync(path);
  } finally {
    rmSync(claim, { force: true });
  }
  return true;
}

/**
 * A takeover claim left by a process that died while holding it: moved aside (only one process
 * can move it) and removed if it is the claim that was judged, else put back.
 */
function removeStaleClaim(claim: string, claimant: Holder): void {
  const aside = `${claim}.${process.pid}.stale`;
  try {
    renameSync(claim, aside);
  } catch (error) {
    if (codeOf(error) === "ENOENT") return; // another process moved it first
    throw error;
  }
  if (readHolder(aside)?.text !== claimant.text) {
    try {
      linkSync(aside, claim);
    } catch {}
  }
  unlinkSync(aside);
}
