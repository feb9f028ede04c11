import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataDirLockedError, dataDirHolder, lockDataDir, lockFilePath } from "../src/lock";

// One process at a time may open an embedded data folder: processes starting together race
// for it, and locks left by processes that are gone are taken over, each exactly once.

const lockModule = resolve(dirname(fileURLToPath(import.meta.url)), "../src/lock.ts");
let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "odyssey-lock-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

/** Processes that each try to lock the folder at the same moment and hold it a while: their outcomes. */
async function race(processes: number): Promise<string[]> {
  const startAt = Date.now() + 1500;
  const script = `
    import { lockDataDir } from ${JSON.stringify(lockModule)};
    while (Date.now() < ${startAt}) {}
    try { lockDataDir(${JSON.stringify(dataDir)}); console.log("held"); setTimeout(() => {}, 800); }
    catch (error) { console.log(error.name); }`;
  return Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise<string>((done, fail) => {
          const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
            stdio: ["ignore", "pipe", "inherit"],
          });
          let out = "";
          child.stdout.on("data", (chunk) => {
            out += chunk;
          });
          child.on("error", fail);
          child.on("exit", () => done(out.trim()));
        }),
    ),
  );
}

describe("lockDataDir", () => {
  it("lets exactly one of several processes starting together hold the folder", async () => {
    for (const stale of ["", "999999 1", `${process.pid} 1`]) {
      // No lock; a lock whose process is gone; a lock whose pid is alive but another process.
      if (stale) writeFileSync(lockFilePath(dataDir), stale);
      else rmSync(lockFilePath(dataDir), { force: true });
      const outcomes = await race(6);
      expect(
        outcomes.filter((o) => o === "held"),
        stale,
      ).toHaveLength(1);
      expect(
        outcomes.filter((o) => o !== "held"),
        stale,
      ).toEqual(Array(5).fill("DataDirLockedError"));
    }
  }, 30_000);

  it("refuses while the holder lives, and takes over once its lock is stale", () => {
    const release = lockDataDir(dataDir);
    const mine = readFileSync(lockFilePath(dataDir), "utf8");
    expect(mine.split(" ")[0]).toBe(String(process.pid));
    // The same lock seen from another process: held by this one.
    expect(dataDirHolder(dataDir)).toBeNull(); // its own lock is not another's
    release();
    expect(() => readFileSync(lockFilePath(dataDir))).toThrow();

    // A live process's lock (this one's, as an older version wrote it: the pid alone).
    writeFileSync(lockFilePath(dataDir), String(process.ppid));
    expect(() => lockDataDir(dataDir)).toThrow(DataDirLockedError);
    // A pid now used by another process, or by a thread, than the one that wrote the lock.
    writeFileSync(lockFilePath(dataDir), `${process.ppid} 1`);
    lockDataDir(dataDir)();
  });
});
