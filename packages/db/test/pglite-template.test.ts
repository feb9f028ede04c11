import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, organizations, queryRows, writePgliteTemplate } from "../src/index";
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
  },
);
