import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unpackDatabase } from "../src/data-folder";
import {
  createDatabase,
  NotADataDirError,
  organizations,
  queryRows,
  writePgliteTemplate,
} from "../src/index";
import { testEngine } from "../src/testing";

// About the embedded database only, so it runs once (in the pglite project).
describe.skipIf(testEngine() !== "pglite")(
  "a new embedded database started from the build's template",
  () => {
    // Made in a hook, not while the suite is collected: a skipped suite runs no afterAll.
    let folder = "";
    let template = "";
    let dataDir = "";
    beforeAll(() => {
      folder = mkdtempSync(join(tmpdir(), "odyssey-template-test-"));
      template = join(folder, "template.tar.gz");
      dataDir = join(folder, "data");
    });
    afterAll(() => rmSync(folder, { recursive: true, force: true }));

    it("is migrated and usable, and keeps its data when opened again", async () => {
      await writePgliteTemplate(template);
      const first = createDatabase({ dataDir, template });
      // Migrated before migrate() runs: the folder came from the template, not from an empty cluster.
      const tables = await queryRows<{ name: string }>(
        first.db,
        sql`select table_name as name from information_schema.tables where table_schema = 'public' order by 1`,
      );
      expect(tables.map((t) => t.name)).toContain("journeys");
      await first.migrate();
      // Its files are its owner's alone, though the archive gave them to everyone.
      const shared = readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter(
        (entry) => statSync(join(entry.parentPath, entry.name)).mode & 0o077,
      );
      expect(shared.map((entry) => entry.name)).toEqual([]);
      await first.db.insert(organizations).values({ id: "org_template", slug: "template", name: "template" });
      await first.close();

      // Opened again (with the template still named), the folder keeps its own contents.
      const again = createDatabase({ dataDir, template });
      try {
        await again.migrate();
        const rows = await queryRows<{ slug: string }>(again.db, sql`select slug from organizations`);
        expect(rows.map((r) => r.slug)).toEqual(["template"]);
      } finally {
        await again.close();
      }
    });

    it("finishes a move into the folder that was cut short, PG_VERSION last", async () => {
      const cut = join(folder, "cut-move");
      mkdirSync(join(cut, ".odyssey-unpacked"), { recursive: true });
      unpackDatabase(readFileSync(template), join(folder, "whole"));
      // As a start killed midway through moving: some entries in place, the rest (with
      // PG_VERSION) still in the unpacked folder.
      for (const name of readdirSync(join(folder, "whole"))) {
        const stillToMove = name === "PG_VERSION" || name === "global" || name === "pg_wal";
        renameSync(join(folder, "whole", name), join(cut, stillToMove ? ".odyssey-unpacked" : "", name));
      }
      const database = createDatabase({ dataDir: cut, template });
      try {
        await database.migrate();
        const rows = await queryRows<{ n: number }>(
          database.db,
          sql`select count(*)::int as n from journeys`,
        );
        expect(rows).toEqual([{ n: 0 }]);
        expect(existsSync(join(cut, ".odyssey-unpacked"))).toBe(false);
      } finally {
        await database.close();
      }
    });

    it("removes an unpacking that was cut short and unpacks again", async () => {
      const cut = join(folder, "cut-unpacking");
      mkdirSync(join(cut, ".odyssey-unpacking/base/1"), { recursive: true });
      writeFileSync(join(cut, ".odyssey-unpacking/base/1/1259"), "partial");
      writeFileSync(join(cut, ".DS_Store"), "the user's");
      const database = createDatabase({ dataDir: cut, template });
      try {
        await database.migrate();
        expect(existsSync(join(cut, "PG_VERSION"))).toBe(true);
        expect(readdirSync(cut).filter((name) => name.startsWith("."))).toEqual([".DS_Store"]);
      } finally {
        await database.close();
      }
    });

    it("leaves an existing folder's own mode, and opens a folder reached through a symlink", async () => {
      const target = join(folder, "target");
      mkdirSync(target, { mode: 0o755 });
      chmodSync(target, 0o755);
      const link = join(folder, "link");
      symlinkSync(target, link);
      const database = createDatabase({ dataDir: link, template });
      try {
        await database.migrate();
      } finally {
        await database.close();
      }
      expect(statSync(target).mode & 0o777).toBe(0o755);
      expect(existsSync(join(target, "PG_VERSION"))).toBe(true);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
    });

    it("never moves what a symlink named as its staging folder points to", async () => {
      const elsewhere = join(folder, "elsewhere");
      mkdirSync(join(elsewhere, "sub"), { recursive: true });
      writeFileSync(join(elsewhere, "notes.txt"), "precious");
      const dataDir = join(folder, "linked-staging");
      mkdirSync(dataDir);
      symlinkSync(elsewhere, join(dataDir, ".odyssey-unpacked"));
      try {
        const database = createDatabase({ dataDir, template });
        await database.close();
      } catch {}
      expect(readdirSync(elsewhere).sort()).toEqual(["notes.txt", "sub"]);
      expect(readdirSync(dataDir).filter((name) => name === "notes.txt" || name === "sub")).toEqual([]);
    });

    it("never moves or deletes anything where the folder holds the user's files", () => {
      const mixed = join(folder, "mixed");
      mkdirSync(join(mixed, ".odyssey-unpacked/base"), { recursive: true });
      mkdirSync(join(mixed, "photos"));
      writeFileSync(join(mixed, "photos/a.jpg"), "mine");
      writeFileSync(join(mixed, "notes.txt"), "mine");
      expect(() => createDatabase({ dataDir: mixed, template })).toThrow(NotADataDirError);
      expect(readdirSync(mixed).sort()).toEqual([".odyssey-unpacked", "notes.txt", "photos"]);
      expect(readdirSync(join(mixed, ".odyssey-unpacked"))).toEqual(["base"]);
    });
  },
);
