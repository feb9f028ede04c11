import { and, asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compiledRowMapper, journeySteps, journeys, organizations } from "../src/index";
import { createTestDatabase, type TestDatabase } from "../src/testing";

// compiledRowMapper must answer exactly what drizzle's own row mapping answers, on either engine:
// nested objects, decoded values (dates, arrays, numbers, nulls), SQL fields with a decoder, a
// left-joined table without a row, and columns read through a CTE.

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  const { db } = database;
  await db.insert(organizations).values({ id: "org_rows", slug: "rows", name: "Rows" });
  await db.insert(journeys).values([
    {
      orgId: "org_rows",
      id: "j_steps",
      slug: "with-steps",
      displayName: "With steps",
      sourceSystem: "custom",
      environment: "production",
      allowedOrigins: ["https://a.example", 'https://"quoted".example'],
    },
    {
      orgId: "org_rows",
      id: "j_empty",
      slug: "empty",
      displayName: "Empty",
      sourceSystem: "custom",
      environment: "staging",
    },
  ]);
  await db.insert(journeySteps).values([
    { orgId: "org_rows", id: "s1", journeyId: "j_steps", stepKey: "one", index: 0, readingLevel: 7.25 },
    {
      orgId: "org_rows",
      id: "s2",
      journeyId: "j_steps",
      stepKey: "two",
      index: 1,
      name: "Two",
      fieldCount: 3,
      requiredArtifacts: ["id", "tax return"],
    },
  ]);
}, 60_000);

afterAll(async () => {
  await database?.close();
});

/** The same select prepared twice: once as drizzle maps rows, once with the compiled mapper. */
async function bothWays(
  build: (name: string) => { execute(values: Record<string, unknown>): Promise<unknown> },
  values: Record<string, unknown>,
) {
  const drizzleRows = await build("rows_drizzle").execute(values);
  const compiledRows = await compiledRowMapper(build("rows_compiled")).execute(values);
  return { drizzleRows, compiledRows };
}

describe("compiledRowMapper", () => {
  const nested = (name: string) =>
    database.db
      .select({
        journey: journeys,
        step: journeySteps,
        stepCount:
          sql<number>`(select count(*) from journey_steps s where s.journey_id = ${journeys.id})`.mapWith(
            Number,
          ),
      })
      .from(journeys)
      .leftJoin(
        journeySteps,
        and(eq(journeySteps.orgId, journeys.orgId), eq(journeySteps.journeyId, journeys.id)),
      )
      .where(eq(journeys.slug, sql.placeholder("slug")))
      .orderBy(asc(journeySteps.index))
      .prepare(name);

  it("maps nested objects and decodes every type as drizzle does", async () => {
    const { drizzleRows, compiledRows } = await bothWays(nested, { slug: "with-steps" });
    expect(compiledRows).toEqual(drizzleRows);
    expect(compiledRows).toHaveLength(2);
    const [first] = compiledRows as { journey: { createdAt: unknown }; stepCount: unknown }[];
    expect(first?.journey.createdAt).toBeInstanceOf(Date);
    expect(first?.stepCount).toBe(2);
  });

  it("gives null for a left-joined table without a row", async () => {
    const { drizzleRows, compiledRows } = await bothWays(nested, { slug: "empty" });
    expect(compiledRows).toEqual(drizzleRows);
    expect((compiledRows as { step: unknown }[])[0]?.step).toBeNull();
  });

  it("maps flat selections and columns read through a CTE", async () => {
    const flat = (name: string) => {
      const found = database.db.$with("found").as(
        database.db
          .select()
          .from(journeys)
          .where(eq(journeys.orgId, sql.placeholder("org"))),
      );
      return database.db
        .with(found)
        .select({
          id: found.id,
          origins: found.allowedOrigins,
          updatedAt: found.updatedAt,
          stepKey: journeySteps.stepKey,
        })
        .from(found)
        .leftJoin(journeySteps, eq(journeySteps.journeyId, found.id))
        .orderBy(asc(found.id), asc(journeySteps.index))
        .prepare(name);
    };
    const { drizzleRows, compiledRows } = await bothWays(flat, { org: "org_rows" });
    expect(compiledRows).toEqual(drizzleRows);
    expect(compiledRows).toHaveLength(3);
  });
});
