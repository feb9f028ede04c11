import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function lockFilePath(dataDir: string): string {
  return join(dataDir, "odyssey.pid");
}

/** The pid holding the data folder, or null when it is free (a stale lock counts as free). */
export function dataDirHolder(dataDir: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(lockFilePath(dataDir), "utf8"), 10);
    return Number.isInteger(pid) && pid !== process.pid && isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * PGlite is a single-process database: two processes opening one data folder corrupt it.
 * The lock file makes the second one fail with a clear error instead.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const holder = dataDirHolder(dataDir);
  if (holder !== null) throw new DataDirLockedError(dataDir, holder);
  const path = lockFilePath(dataDir);
  rmSync(path, { force: true });
  try {
    // "wx" fails if another process created the file since the check above.
    writeFileSync(path, String(process.pid), { flag: "wx" });
  } catch {
    throw new DataDirLockedError(dataDir, dataDirHolder(dataDir) ?? -1);
  }
  return () => {
    if (dataDirHolder(dataDir) === null) rmSync(path, { force: true });
  };
}
