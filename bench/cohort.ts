// pnpm bench:cohort — what Retrieve costs when a busy journey's analytics must be computed again
// (after every change: docs/analytics.md, "Computed once per change").
//
// It stores BENCH_SESSIONS session summaries (default 500000) for one 10-step journey, all in its
// 30-day cohort, and as many older ones for another journey, straight into `event_sessions`:
// funnels that narrow step by step, a tenth of the sessions skipping a step, a mix of devices.
// Then it computes the journey's analytics with the service's own code (`readAnalytics`, every
// figure of Retrieve, in its read-only transaction) and, as the baseline, with the three cohort
// queries that code sent before (totals and percentiles, abandoned per step, reached per step),
// BENCH_ROUNDS times each (default 10), alternating. Both must find the same sessions reaching
// each step. Prints p50 and p99 in ms and the ratio of the p50s.
//
// Settings (environment): ODYSSEY_BENCH_DATABASE_URL (the server the bench database is created
// on), BENCH_SESSIONS, BENCH_ROUNDS.

import { sql } from "drizzle-orm";
import { readAnalytics } from "../packages/api/src/analytics/load.ts";
import { createApiKey, createCaller } from "../packages/api/src/index.ts";
import { type Database, queryRows } from "../packages/db/src/index.ts";
import { withMigratedBenchDatabase } from "./lib/database.ts";
import { p50p99 } from "./lib/percentile.ts";
import { progressBar } from "./lib/progress.ts";
import { positiveIntSetting } from "./lib/settings.ts";

const SESSIONS = positiveIntSetting("BENCH_SESSIONS", 500_000);
const ROUNDS = positiveIntSetting("BENCH_ROUNDS", 10);
const STEPS = 10;
const CHUNK = 50_000;

/**
 * Sessions `first` to `first + count − 1` of one journey, whose entries run from `fromDays` to
 * `toDays` days ago in the order they are stored, as live traffic stores them.
 */
function storeSessions(
  db: Database,
  ids: { orgId: string; journeyId: string },
  first: number,
  count: number,
  days: [number, number],
) {
  const [fromDays, toDays] = days;
  return db.execute(sql`
    insert into event_sessions (org_id, journey_id, session_id, first_start_at, first_event_at,
      last_event_at, device, device_at, device_event_id, furthest_step_index, viewed_step_indexes,
      first_success_at)
    select ${ids.orgId}, ${ids.journeyId}, 'session-' || n, entry, entry,
      entry + (furthest + 1) * interval '90 seconds', device, entry, md5(n::text), furthest,
      case when n % 10 = 0 and furthest > 1
        then array(select s from generate_series(0, furthest) as s where s <> 1)
        else array(select s from generate_series(0, furthest) as s) end,
      case when furthest = ${STEPS - 1}::int and n % 5 <> 0
        then entry + (300 + n % 900) * interval '1 second' end
    from (
      select n,
        now() - (${fromDays}::float8 - (${fromDays}::float8 - ${toDays}::float8) * n / ${SESSIONS}::float8) * interval '1 day'
          - random() * interval '1 hour' as entry,
        least(${STEPS - 1}::int, floor(-ln(1 - random()) * 4))::int as furthest,
        (array['mobile', 'mobile', 'desktop', 'desktop', 'tablet', null])[1 + n % 6] as device
      from generate_series(${first}::int, ${first + count - 1}::int) as n
    ) as drawn`);
}

/** The cohort queries `readAnalytics` sent before it read the cohort once (docs/benchmarks.md). */
async function formerCohortQueries(db: Database, orgId: string, journeyId: string) {
  const now = Date.now();
  const cohortFrom = new Date(now - 30 * 86_400_000).toISOString();
  const idleBefore = new Date(now - 30 * 60_000).toISOString();
  const ofSessions = sql`org_id = ${orgId} and journey_id = ${journeyId} and entry_at >= ${cohortFrom}::timestamptz`;
  const elapsed = sql`((extract(epoch from first_success_at) - extract(epoch from entry_at)) * 1000)::float8`;
  return db.transaction(
    async (tx) => {
      const [, abandoned, reached] = await Promise.all([
        queryRows(
          tx,
          sql`select count(*), count(first_success_at), count(*) filter (where device = 'mobile'), count(device),
            count(*) filter (where first_success_at is null and last_event_at >= ${idleBefore}::timestamptz),
            percentile_cont(0.5) within group (order by ${elapsed}),
            percentile_cont(0.75) within group (order by ${elapsed}),
            percentile_cont(0.9) within group (order by ${elapsed}),
            min(entry_at),
            min(last_event_at) filter (where first_success_at is null and last_event_at >= ${idleBefore}::timestamptz)
          from event_sessions where ${ofSessions}`,
        ),
        queryRows<{ index: number; sessions: number }>(
          tx,
          sql`select furthest_step_index as index, count(*)::int as sessions from event_sessions
          where ${ofSessions} and first_success_at is null and last_event_at < ${idleBefore}::timestamptz
            and furthest_step_index is not null
          group by furthest_step_index`,
        ),
        queryRows<{ index: number; sessions: number }>(
          tx,
          sql`select step.index::int as index, count(*)::int as sessions
          from event_sessions, unnest(viewed_step_indexes) as step(index)
          where ${ofSessions} group by step.index`,
        ),
      ]);
      const at = (rows: { index: number; sessions: number }[]) =>
        new Map(rows.map((r) => [r.index, r.sessions]));
      return { reached: at(reached), abandoned: at(abandoned) };
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
}

async function main() {
  await withMigratedBenchDatabase(2, async (db) => {
    const { key, orgId } = await createApiKey(db, { orgSlug: "bench", kind: "secret" });
    const caller = createCaller({ db, authorization: `Bearer ${key}` });
    const steps = Array.from({ length: STEPS }, (_, index) => ({ stepKey: `step-${index}`, index }));
    const journey = await caller.journeys.create({ slug: "busy", displayName: "Busy", steps });
    const older = await caller.journeys.create({ slug: "older", displayName: "Older", steps });

    const progress = progressBar("storing sessions", 2 * SESSIONS);
    for (let done = 0; done < SESSIONS; done += CHUNK) {
      const count = Math.min(CHUNK, SESSIONS - done);
      await storeSessions(db, { orgId, journeyId: journey.id }, done, count, [29.9, 0]);
      await storeSessions(db, { orgId, journeyId: older.id }, done, count, [400, 31]);
      progress(2 * (done + count));
    }
    await db.execute(sql`vacuum analyze event_sessions`);

    const times = { service: [] as number[], baseline: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      let start = performance.now();
      const parts = await readAnalytics({ ctx: { db, orgId }, journey });
      times.service.push(performance.now() - start);
      start = performance.now();
      const former = await formerCohortQueries(db, orgId, journey.id);
      times.baseline.push(performance.now() - start);
      for (const step of parts.cohort.value.funnel) {
        if (step.reached !== (former.reached.get(step.index) ?? 0)) {
          throw new Error(
            `Step ${step.index}: reached ${step.reached}, the former queries found another count`,
          );
        }
      }
      if (parts.cohort.value.healthMetrics.sessionCount !== SESSIONS) {
        throw new Error(
          `The cohort holds ${parts.cohort.value.healthMetrics.sessionCount} sessions, not ${SESSIONS}`,
        );
      }
    }
    const now = p50p99(times.service);
    const before = p50p99(times.baseline);
    console.log(
      `| ${SESSIONS} sessions in the cohort, ${ROUNDS} rounds | readAnalytics p50 / p99, ms | former cohort queries (baseline) p50 / p99, ms | service ÷ baseline, p50 |`,
    );
    console.log("|---|---:|---:|---:|");
    console.log(
      `| every figure of Retrieve, computed again | ${now.p50.toFixed(0)} / ${now.p99.toFixed(0)} | ` +
        `${before.p50.toFixed(0)} / ${before.p99.toFixed(0)} | ${(now.p50 / before.p50).toFixed(2)}× |`,
    );
  });
}

await main();
