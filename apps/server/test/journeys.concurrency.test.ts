import { queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server";

// Slug uniqueness is decided by the database's unique constraint, so racing creates of one
// slug give exactly one journey, whatever the interleaving.

const PARALLEL = 50;
const slug = "contested-slug";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function rowsWithSlug(orgSlug: string) {
  const [row] = await queryRows<{ count: number }>(
    server.database.db,
    sql`select count(*)::int as count from journeys j join organizations o on o.id = j.org_id
        where o.slug = ${orgSlug} and j.slug = ${slug}`,
  );
  return row?.count;
}

describe(`${PARALLEL} parallel creates of one slug`, () => {
  it("give exactly one 201 and 409s with the documented body, and one row", async () => {
    const key = await server.key("race-a", ["journeys:write"]);
    const responses = await Promise.all(
      Array.from({ length: PARALLEL }, (_, n) =>
        server.call(key, "POST", "/api/journeys/create", {
          slug,
          displayName: `Attempt ${n}`,
          steps: [{ stepKey: "only", index: 0 }],
        }),
      ),
    );
    const answers = await Promise.all(
      responses.map(async (res) => ({ status: res.status, body: await res.text() })),
    );

    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const conflicts = answers.filter((a) => a.status !== 201);
    expect(conflicts).toHaveLength(PARALLEL - 1);
    for (const conflict of conflicts) {
      expect(conflict.status).toBe(409);
      expect(conflict.body).toBe(
        `{"error":"Journey with slug \\"${slug}\\" already exists in this organization"}`,
      );
    }
    expect(await rowsWithSlug("race-a")).toBe(1);
    const [steps] = await queryRows<{ count: number }>(
      server.database.db,
      sql`select count(*)::int as count from journey_steps s join journeys j on j.org_id = s.org_id and j.id = s.journey_id
          where j.slug = ${slug}`,
    );
    expect(steps?.count).toBe(1);
  });

  it("leave the same slug free in another organization", async () => {
    const key = await server.key("race-b", ["journeys:write", "journeys:read"]);
    const res = await server.call(key, "POST", "/api/journeys/create", {
      slug,
      displayName: "Other organization",
    });
    expect(res.status).toBe(201);
    expect(await rowsWithSlug("race-b")).toBe(1);
    expect(await rowsWithSlug("race-a")).toBe(1);
    const mine = await server.call(key, "GET", `/api/journeys/${slug}`);
    expect(((await mine.json()) as { displayName: string }).displayName).toBe("Other organization");
  });
});
