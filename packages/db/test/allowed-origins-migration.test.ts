import { describe, expect, it } from "vitest";
import { databaseBefore } from "./support/migrations";

// Migration 0019 gives allowed origins stored before they were normalized on write the case and
// trailing slash of a browser's Origin header, so the preflight can match them exactly, by index.

describe("migration 0019: stored origins as browsers send them", () => {
  const engine = databaseBefore("0018_preflight_origin_indexes");

  it("lowers case and drops trailing slashes, keeping the first order, once each, and nothing else", async () => {
    await engine.migrateBefore();
    await engine.query(`insert into organizations (id, slug, name) values ('org_m', 'm', 'M')`);
    const journey = (id: string, origins: string) =>
      `('org_m', '${id}', '${id}', 'J', 'custom', 'production', ${origins}, '2026-11-20T10:00:00Z')`;
    await engine.query(`insert into journeys
      (org_id, id, slug, display_name, source_system, environment, allowed_origins, updated_at) values
      ${journey("old", `array['https://apply.example.org/', 'HTTPS://Forms.Example.com', 'https://forms.example.com/']`)},
      ${journey("new", `array['https://b.example.com', 'https://a.example.com']`)},
      ${journey("open", `'{}'`)}`);

    await engine.migrateAll();

    const rows = await engine.query(
      `select id, allowed_origins, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD') as updated
       from journeys order by id`,
    );
    expect(rows).toEqual([
      {
        id: "new",
        allowed_origins: ["https://b.example.com", "https://a.example.com"],
        updated: "2026-11-20",
      },
      {
        id: "old",
        allowed_origins: ["https://apply.example.org", "https://forms.example.com"],
        updated: "2026-11-20",
      },
      { id: "open", allowed_origins: [], updated: "2026-11-20" },
    ]);
  });
});
