import { queryRows } from "@odyssey/db";
import { createTestDatabase, planOf, type TestDatabase } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anyJourneyAllows, originAllowedByAnyJourney } from "../src/events/preflight";

// A browser's preflight on /api/events asks whether any journey, of any organization, takes events
// from an origin; so does every refused batch a page sends. It must be answered from the indexes,
// not by reading every journey: 100 thousand journeys made it 150 ms a question.

let database: TestDatabase;
const JOURNEYS = 20_000;

beforeAll(async () => {
  database = await createTestDatabase();
  const { db } = database;
  await db.execute(
    sql`insert into organizations (id, slug, name) values ('org_preflight', 'preflight', 'P')`,
  );
  await db.execute(sql`
    insert into journeys (org_id, id, slug, display_name, source_system, environment, allowed_origins)
    select 'org_preflight', 'journey_' || g, 'j' || g, 'J', 'custom', 'production',
      array['https://forms' || g || '.example.com', 'https://apply' || g || '.example.org']
    from generate_series(1, ${JOURNEYS}) as g`);
  await db.execute(sql`analyze journeys`);
}, 120_000);

afterAll(async () => {
  await database?.close();
});

describe("Which origins some journey allows", () => {
  it("is read from the indexes, however many journeys there are", async () => {
    const plan = await planOf(database.db, anyJourneyAllows("https://nowhere.example.net"));
    expect(plan).toContain("journeys_open_to_all_idx");
    expect(plan).toContain("journeys_allowed_origins_idx");
    expect(plan).not.toMatch(/Seq Scan/);
  });

  it("keeps no pending list in the GIN index, which every question would read whole", async () => {
    const [index] = await queryRows<{ options: string[] | null }>(
      database.db,
      sql`select reloptions as options from pg_class where relname = 'journeys_allowed_origins_idx'`,
    );
    expect(index?.options).toEqual(["fastupdate=false"]);
  });

  it("answers for a listed origin, in any form a browser sends it, and for no other", async () => {
    const { db } = database;
    expect(await originAllowedByAnyJourney(db, "https://forms77.example.com")).toBe(true);
    expect(await originAllowedByAnyJourney(db, "HTTPS://APPLY9.example.org:443")).toBe(true);
    expect(await originAllowedByAnyJourney(db, "https://forms77.example.co")).toBe(false);
    expect(await originAllowedByAnyJourney(db, "null")).toBe(false);
  });

  it("answers for every origin once a journey takes events from any", async () => {
    const { db } = database;
    expect(await originAllowedByAnyJourney(db, "https://anywhere.example.net")).toBe(false);
    await db.execute(sql`
      insert into journeys (org_id, id, slug, display_name, source_system, environment)
      values ('org_preflight', 'journey_open', 'open', 'Open', 'custom', 'production')`);
    expect(await originAllowedByAnyJourney(db, "https://anywhere.example.net")).toBe(true);
  });
});
