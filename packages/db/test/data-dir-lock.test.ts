import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataDirLockedError, dataDirHolder, lockDataDir, lockFilePath, takeOver } from "../src/lock";

// One process at a time may open an embedded data folder: processes starting together race
// for it, and locks left by processes that are gone are taken over, each exactly once.

const lockModule = resolve(dirname(fileURLToPath(import.meta.url)), "../src/lock.ts");
let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "odyssey-lock-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

/**
 * Processes that each try to lock the folder at the same moment: their outcomes. A process that
 * gets the folder holds it until every outcome is in, so none finds it freed by a holder that
 * exited (on a loaded machine a process can start a second late).
 */
async function race(processes: number): Promise<string[]> {
  const startAt = Date.now() + 1500;
  const script = `
    import { lockDataDir } from ${JSON.stringify(lockModule)};
    while (Date.now() < ${startAt}) {}
    try { lockDataDir(${JSON.stringify(dataDir)}); console.log("held"); process.stdin.resume(); }
    catch (error) { console.log(error.name); }`;
  const children = Array.from({ length: processes }, () => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    child.stdin.on("error", () => {}); // a process that already exited has nothing to read
    return child;
  });
  const outcomes = await Promise.all(
    children.map(
      (child) =>
        new Promise<string>((done, fail) => {
          let out = "";
          child.stdout.on("data", (chunk) => {
            out += chunk;
            if (out.includes("\n")) done(out.trim());
          });
          child.on("error", fail);
          child.on("exit", () => done(out.trim()));
        }),
    ),
  );
  await Promise.all(
    children.map((child) => {
      const exited = new Promise((done) => child.once("exit", done));
      if (child.exitCode === null) child.stdin.end();
      return child.exitCode === null ? exited : undefined;
    }),
  );
  return outcomes;
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

describe("takeOver", () => {
  const stale = { pid: 999999, startedAt: "1", text: "999999 1" };
  const mine = (name: string, text: string) => {
    const path = join(dataDir, name);
    writeFileSync(path, text);
    return path;
  };

  it("removes the stale lock it judged, and only that one", () => {
    const path = lockFilePath(dataDir);
    writeFileSync(path, stale.text);
    expect(takeOver(path, stale, mine("a.new", "1 1"))).toBe(true);
    expect(() => readFileSync(path)).toThrow();

    // Another process took the folder since the stale lock was judged: its lock stays.
    writeFileSync(path, `${process.pid} 2`);
    expect(takeOver(path, stale, mine("b.new", "1 1"))).toBe(true);
    expect(readFileSync(path, "utf8")).toBe(`${process.pid} 2`);
  });

  it("leaves the stale lock to a live process taking it over, and takes a dead one's claim away", () => {
    const path = lockFilePath(dataDir);
    writeFileSync(path, stale.text);
    const claim = `${path}.takeover-${createHash("sha256").update(stale.text).digest("hex").slice(0, 16)}`;
    // This process as a lock names it: pid and start time (/proc/<pid>/stat, field 22).
    const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
    const live = `${process.pid} ${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
    writeFileSync(claim, live);
    expect(takeOver(path, stale, mine("a.new", "1 1"))).toBe(false);
    expect(readFileSync(path, "utf8")).toBe(stale.text);
    expect(readFileSync(claim, "utf8")).toBe(live);

    writeFileSync(claim, "999998 1"); // its claimant died while taking over
    expect(takeOver(path, stale, mine("b.new", "1 1"))).toBe(false);
    expect(existsSync(claim)).toBe(false);
    expect(takeOver(path, stale, mine("c.new", "1 1"))).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(claim)).toBe(false);
  });
});
