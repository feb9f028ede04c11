// pnpm bench:preflight — what the question "does any journey take events from this origin?"
// costs Postgres, at a given number of journeys. Every CORS preflight on /api/events asks it, and
// so does every refused batch a page sends.
//
// It stores BENCH_JOURNEYS journeys (default 100000, two origins each, over a thousand
// organizations) in a fresh database, then asks the service's lookup (`anyJourneyAllows`,
// events/preflight.ts) and, as the baseline, the lookup it replaced (every journey read, case
// and trailing slash forgiven row by row), BENCH_QUESTIONS times each (default 200), alternating,
// for an origin no journey lists (most preflights a crawler or an attacker sends) and for one
// that a journey lists. Prints p50 and p99 in ms and the ratio of the p50s.
//
// Settings (environment): ODYSSEY_BENCH_DATABASE_URL (the server the bench database is created
// on), BENCH_JOURNEYS, BENCH_QUESTIONS.

import { sql } from "drizzle-orm";
import { anyJourneyAllows } from "../packages/api/src/events/preflight.ts";
import { type Database, queryRows } from "../packages/db/src/index.ts";
import { withMigratedBenchDatabase } from "./lib/database.ts";
import { p50p99 } from "./lib/percentile.ts";
import { positiveIntSetting } from "./lib/settings.ts";

const JOURNEYS = positiveIntSetting("BENCH_JOURNEYS", 100_000);
const QUESTIONS = positiveIntSetting("BENCH_QUESTIONS", 200);

/** The lookup before the indexes: every journey read, each list unnested. */
const everyJourneyRead = (normal: string) =>
  sql`select exists (
    select 1 from journeys j
    where cardinality(j.allowed_origins) = 0
      or ${normal} = any(j.allowed_origins)
      or exists (select 1 from unnest(j.allowed_origins) o where lower(rtrim(o, '/')) = ${normal})
  ) as allowed`;

async function timed(db: Database, query: ReturnType<typeof sql>, expected: boolean): Promise<number> {
  const start = performance.now();
  const [row] = await queryRows<{ allowed: boolean }>(db, query);
  const ms = performance.now() - start;
  if (row?.allowed !== expected) throw new Error(`The lookup answered ${row?.allowed}, not ${expected}`);
  return ms;
}

async function main() {
  await withMigratedBenchDatabase(1, async (db) => {
    process.stderr.write(`storing ${JOURNEYS} journeys…\n`);
    await db.execute(sql`
      insert into organizations (id, slug, name)
      select 'org_' || g, 'o' || g, 'O' from generate_series(0, 999) as g`);
    await db.execute(sql`
      insert into journeys (org_id, id, slug, display_name, source_system, environment, allowed_origins)
      select 'org_' || (g % 1000), 'journey_' || g, 'j' || g, 'J', 'custom', 'production',
        array['https://forms' || g || '.example.com', 'https://apply' || g || '.example.org']
      from generate_series(1, ${JOURNEYS}) as g`);
    await db.execute(sql`analyze journeys`);

    const cases = [
      { name: "origin no journey lists", origin: "https://nowhere.example.net", expected: false },
      { name: "origin a journey lists", origin: `https://forms${JOURNEYS}.example.com`, expected: true },
    ];
    const rows: string[] = [];
    for (const { name, origin, expected } of cases) {
      const times = { indexes: [] as number[], baseline: [] as number[] };
      for (let i = 0; i < QUESTIONS; i++) {
        times.indexes.push(await timed(db, anyJourneyAllows(origin), expected));
        times.baseline.push(await timed(db, everyJourneyRead(origin), expected));
      }
      const now = p50p99(times.indexes);
      const before = p50p99(times.baseline);
      rows.push(
        `| ${name} | ${now.p50.toFixed(2)} / ${now.p99.toFixed(2)} | ` +
          `${before.p50.toFixed(2)} / ${before.p99.toFixed(2)} | ${(before.p50 / now.p50).toFixed(0)}× |`,
      );
    }
    console.log(
      `| ${JOURNEYS} journeys, ${QUESTIONS} questions each | indexes p50 / p99, ms | every journey read (baseline) p50 / p99, ms | baseline ÷ indexes, p50 |`,
    );
    console.log("|---|---:|---:|---:|");
    for (const row of rows) console.log(row);
  });
}

await main();
