import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDatabase,
  type Database,
  eventSessions,
  journeys,
  organizations,
  queryRows,
  SESSION_SETTINGS,
} from "../src/index";
import { createTestDatabase, type TestDatabase, testEngine } from "../src/testing";

// The service's sessions, on either engine, plan without parallel query (starting workers costs
// a request milliseconds; docs/benchmarks.md, fix 24) and price a page read at random about as a
// sequential one, so that a journey's recent sessions are read by index even when the table's
// statistics make them look many (fix 31). They read dates in ISO form, floats exactly and run
// at read committed, whatever the database sets by default.

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await database?.close();
});

/** Each of the service's settings as the session in which `db` runs reports it. */
const settingsOf = async (db: Database) => {
  const [row] = await queryRows<Record<string, string>>(
    db,
    sql.join(
      [
        sql`select pg_sleep(0.05)`,
        ...Object.keys(SESSION_SETTINGS).map(
          (name) => sql`current_setting(${name}) as ${sql.identifier(name)}`,
        ),
      ],
      sql`, `,
    ),
  );
  const { pg_sleep: _, ...settings } = row ?? {};
  return settings;
};

describe("Every session", () => {
  it("has the service's settings, on every connection of the pool", async () => {
    // More concurrent queries than one connection can answer, so several connections open.
    const settings = await Promise.all(Array.from({ length: 8 }, () => settingsOf(database.db)));
    expect(settings).toEqual(Array(8).fill(SESSION_SETTINGS));
    expect(SESSION_SETTINGS).toEqual({
      max_parallel_workers_per_gather: "0",
      random_page_cost: "1.1",
      datestyle: "ISO, MDY",
      default_transaction_isolation: "read committed",
      extra_float_digits: "3",
    });
  });

  it.runIf(testEngine() === "postgres")(
    "keeps them whatever the database sets by default, and reads times and floats back as they are",
    async () => {
      const name = new URL(database.url ?? "").pathname.slice(1);
      const admin = createDatabase({ url: database.url, maxConnections: 1 });
      await queryRows(
        admin.db,
        sql.raw(`alter database ${name} set datestyle = 'SQL, DMY';
          alter database ${name} set default_transaction_isolation = 'serializable';
          alter database ${name} set extra_float_digits = -3`),
      );
      await admin.close();
      const pool = createDatabase({ url: database.url, maxConnections: 2 });
      try {
        expect(await settingsOf(pool.db)).toEqual(SESSION_SETTINGS);
        const at = new Date("2026-11-26T10:00:05.123Z");
        const [row] = await queryRows<{ at: string; third: number }>(
          pool.db,
          sql`select ${at.toISOString()}::timestamptz as at, (1::float8 / 3) as third`,
        );
        // As drizzle reads a timestamptz column's text.
        expect(new Date(row?.at ?? "").getTime()).toBe(at.getTime());
        expect(row?.third).toBe(1 / 3);
      } finally {
        await pool.close();
      }
    },
  );
});

describe("The planner, on either engine,", () => {
  it("reads one journey's recent sessions by index, though a busy journey makes them look many", async () => {
    const { db } = database;
    const org = "org_RNGtTvjT939uCMjL";
    const [old, busy] = ["journey_Z93J3536J0vbUgQf", "journey_YEvYQHgUqBrsHMCS"];
    await db.insert(organizations).values({ id: org, slug: "planner", name: "Planner" });
    const journey = (id: string) => ({
      orgId: org,
      id,
      slug: id,
      displayName: id,
      sourceSystem: "custom",
      environment: "production",
    });
    await db.insert(journeys).values([journey(old), journey(busy)]);
    // A journey with two years of sessions and 250 in the last 30 days, and one with 20 thousand
    // recent sessions, stored in no particular order. The statistics say that most sessions are
    // the first journey's and that half are recent: a quarter of the table, the planner expects.
    await db.execute(sql`insert into ${eventSessions} (org_id, journey_id, session_id, first_start_at,
        first_event_at, last_event_at, device, device_at, device_event_id, furthest_step_index,
        viewed_step_indexes)
      select ${org}, case when n <= 25000 then ${old} else ${busy} end, 'session-' || n, at, at,
        at + interval '5 minutes', 'mobile', at, md5(n::text), 3, '{0,1,2,3}'
      from (select n, case when n <= 24750 then now() - interval '730 days' + n * interval '40 minutes'
              else now() - (n % 29) * interval '1 day' - (n % 1440) * interval '1 minute' end as at
            from generate_series(1, 45000) as n order by random()) as rows`);
    await db.execute(sql`analyze ${eventSessions}`);
    // The shape of Retrieve's cohort queries (analytics/load.ts), with its bound as a parameter.
    const cohortFrom = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const plan = JSON.stringify(
      await queryRows(
        db,
        sql`explain (format json) select count(*), count(first_success_at), count(device)
          from ${eventSessions}
          where org_id = ${org} and journey_id = ${old} and entry_at >= ${cohortFrom}::timestamptz`,
      ),
    );
    // With the default cost of a random page read, this plan reads all 45 thousand sessions.
    expect(plan).not.toContain("Seq Scan");
    expect(plan).toContain("event_sessions_entry_idx");
  });
});
