import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationsFolder } from "../src/index";
import { testEngine } from "../src/testing";

// The schema in src/schema.ts and the migrations in drizzle/ must describe the same tables: a
// schema change committed without its migration (`pnpm db:generate`) would pass every test, which
// run on the migrations, and then differ from what the code's types and queries assume.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const schemaFile = join(repoRoot, "packages", "db", "src", "schema.ts");
const drizzleKit = join(repoRoot, "node_modules", ".bin", "drizzle-kit");

const sqlFiles = (folder: string) => readdirSync(folder).filter((name) => name.endsWith(".sql"));

// One engine is enough: this compares files, not databases.
describe.skipIf(testEngine() !== "postgres")("the migrations", () => {
  // Made in a hook, not while the suite is collected: a skipped suite runs no afterAll.
  let workDir = "";
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "odyssey-migrations-sync-"));
  });
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it("hold every change in the schema: generating from it writes no new migration", () => {
    cpSync(migrationsFolder, join(workDir, "drizzle"), { recursive: true });
    const before = sqlFiles(join(workDir, "drizzle"));
    // drizzle-kit takes `--out` relative to its working directory; stdin closed, so a question
    // (a rename to confirm) ends the run instead of waiting.
    const run = spawnSync(
      drizzleKit,
      ["generate", "--dialect", "postgresql", "--schema", schemaFile, "--out", "drizzle"],
      { cwd: workDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 },
    );
    const hint = "schema.ts differs from drizzle/: run `pnpm db:generate --name <what changed>`";
    expect(run.status, `${hint}\n${run.stderr}`).toBe(0);
    expect(run.stdout, hint).toContain("No schema changes");
    expect(sqlFiles(join(workDir, "drizzle"))).toEqual(before);
  });
});
