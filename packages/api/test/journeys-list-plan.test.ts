import { journeys } from "@odyssey/db";
import { createTestDatabase, planOf, type TestDatabase } from "@odyssey/db/testing";
import { and, desc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journeysBefore } from "../src/journeys/operations";

// A page of journeys after a cursor must start at the cursor in the index, not read every newer
// journey of the organization and filter them out: a page deep in 30 thousand journeys read them all.

let database: TestDatabase;
const JOURNEYS = 5000;

beforeAll(async () => {
  database = await createTestDatabase();
  const { db } = database;
  await db.execute(sql`insert into organizations (id, slug, name) values ('org_pages', 'pages', 'P')`);
  await db.execute(sql`
    insert into journeys (org_id, id, slug, display_name, source_system, environment, created_at)
    select 'org_pages', 'journey_' || lpad(g::text, 6, '0'), 'j' || g, 'J', 'custom', 'production',
      timestamptz '2026-01-01' + g * interval '1 minute'
    from generate_series(1, ${JOURNEYS}) as g`);
  await db.execute(sql`analyze journeys`);
}, 120_000);

afterAll(async () => {
  await database?.close();
});

describe("A page of journeys after a cursor", () => {
  it("starts at the cursor in the index", async () => {
    const cursor = { createdAt: new Date("2026-01-01T00:10:00Z"), id: "journey_000010" };
    const page = database.db
      .select({ id: journeys.id })
      .from(journeys)
      .where(and(eq(journeys.orgId, "org_pages"), journeysBefore(cursor)))
      .orderBy(desc(journeys.createdAt), desc(journeys.id))
      .limit(21);
    const lines = await planOf(database.db, page);
    expect(lines).toMatch(/Index Cond: \(\(org_id = 'org_pages'::text\) AND \(ROW\(created_at, id\) < ROW\(/);
    expect(lines).not.toMatch(/Filter:/);
    expect((await page).map((row) => row.id)).toEqual(
      Array.from({ length: 9 }, (_, i) => `journey_${String(9 - i).padStart(6, "0")}`),
    );
  });
});
