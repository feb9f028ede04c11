import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDatabase, NotADataDirError } from "../src/index";
import { testEngine } from "../src/testing";

// A folder named as the embedded database's that already holds the user's files is refused,
// untouched; a new database's permission fix reaches only what its template unpacked.

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe.skipIf(testEngine() !== "pglite")("an embedded data folder that holds other files", () => {
  let root = "";
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "odyssey-folder-test-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("is refused before anything is written, and nothing in or outside it changes", () => {
    const dataDir = join(root, "data");
    mkdirSync(join(dataDir, "shared/sub"), { recursive: true });
    writeFileSync(join(dataDir, "shared/sub/report.txt"), "hi");
    chmodSync(join(dataDir, "shared/sub/report.txt"), 0o644);
    writeFileSync(join(root, "outside.txt"), "out");
    chmodSync(join(root, "outside.txt"), 0o644);
    symlinkSync(join(root, "outside.txt"), join(dataDir, "link.txt"));

    expect(() => createDatabase({ dataDir })).toThrow(NotADataDirError);
    expect(() => createDatabase({ dataDir })).toThrow(/set ODYSSEY_DATA_DIR/);
    expect(readdirSync(dataDir).sort()).toEqual(["link.txt", "shared"]);
    expect(modeOf(join(dataDir, "shared/sub/report.txt"))).toBe(0o644);
    expect(modeOf(join(root, "outside.txt"))).toBe(0o644);
  });

  it("is accepted when it holds only a lock file a gone process left, a fresh volume's lost+found or hidden files", async () => {
    const dataDir = join(root, "data");
    mkdirSync(join(dataDir, "lost+found"), { recursive: true });
    writeFileSync(join(dataDir, "odyssey.pid"), "999999999");
    writeFileSync(join(dataDir, ".DS_Store"), "");
    const database = createDatabase({ dataDir });
    try {
      await database.migrate();
      expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(true);
    } finally {
      await database.close();
    }
  });
});
