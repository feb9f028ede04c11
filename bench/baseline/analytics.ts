import { EventType } from "@odyssey/api";
import type postgres from "postgres";

// Retrieve's analytics the bare way: the same five queries over the summaries that
// packages/api/src/analytics/load.ts sends, in parallel as it does, with hand-written SQL.

const DAY = 86_400_000;
const HOUR = 3_600_000;

interface Step {
  id: unknown;
  stepKey: unknown;
  name: unknown;
  index: unknown;
}

const rate = (part: number, whole: number) => (whole === 0 ? null : part / whole);
const typeSums = EventType.options.map((type) => `coalesce(sum(${type}), 0)::int as ${type}`).join(", ");
const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms / 1000));

export async function analytics(sql: postgres.Sql, orgId: string, journeyId: string, steps: Step[]) {
  const now = Date.now();
  const cohortFrom = new Date(now - 30 * DAY);
  const idleBefore = new Date(now - 30 * 60_000);
  const countsFrom = new Date(Math.floor(now / HOUR) * HOUR - 23 * HOUR);
  const seenFrom = new Date(now - 7 * DAY);
  const keys = steps.map((s) => s.stepKey as string);
  const elapsed = sql`((extract(epoch from first_success_at) - extract(epoch from entry_at)) * 1000)::float8`;
  const [[cohort], [counts], seenKnown, seenUnknown, [snapshot]] = await Promise.all([
    sql`with grouped as (
        select viewed_step_indexes as viewed, furthest_step_index as furthest,
          first_success_at is not null as completed, last_event_at < ${idleBefore} as idle,
          count(*) as sessions, count(*) filter (where device = 'mobile') as mobile,
          count(device) as with_device,
          array_agg(${elapsed}) filter (where first_success_at is not null) as completed_ms
        from event_sessions where org_id = ${orgId} and journey_id = ${journeyId} and entry_at >= ${cohortFrom}
        group by 1, 2, 3, 4
      ), reached as (
        select step.index, sum(sessions)::int as sessions
        from grouped, unnest(grouped.viewed) as step(index) group by step.index
      ), abandoned as (
        select furthest as index, sum(sessions)::int as sessions
        from grouped where not completed and idle and furthest is not null group by furthest
      ), percentiles as (
        select percentile_cont(array[0.5, 0.75, 0.9]) within group (order by ms) as p
        from grouped, unnest(grouped.completed_ms) as ms
      )
      select coalesce(sum(sessions), 0)::int as sessions,
        coalesce(sum(sessions) filter (where completed), 0)::int as completed,
        coalesce(sum(mobile), 0)::int as mobile, coalesce(sum(with_device), 0)::int as with_device,
        coalesce(sum(sessions) filter (where not completed and not idle), 0)::int as in_progress,
        (select json_agg(reached) from reached) as reached,
        (select json_agg(abandoned) from abandoned) as abandoned,
        (select p[1] from percentiles) as p50, (select p[2] from percentiles) as p75,
        (select p[3] from percentiles) as p90
      from grouped`,
    sql`select ${sql.unsafe(typeSums)} from event_hour_counts
      where org_id = ${orgId} and journey_id = ${journeyId} and hour >= ${countsFrom}`,
    sql`select step_key from event_step_keys where org_id = ${orgId} and journey_id = ${journeyId}
      and last_seen_at >= ${seenFrom} and step_key = any(${keys})`,
    sql`select step_key, last_seen_at from event_step_keys where org_id = ${orgId} and journey_id = ${journeyId}
      and last_seen_at >= ${seenFrom} and not (step_key = any(${keys})) order by step_key collate "C" limit 100`,
    sql`select id, created_at from snapshots where org_id = ${orgId} and journey_id = ${journeyId}
      order by created_at desc, id desc limit 1`,
  ]);
  type Count = { index: number; sessions: number };
  const abandonedAt = new Map(((cohort?.abandoned ?? []) as Count[]).map((r) => [r.index, r.sessions]));
  const reachedAt = new Map(((cohort?.reached ?? []) as Count[]).map((r) => [r.index, r.sessions]));
  const funnel = steps.map((step) => {
    const reachedCount = reachedAt.get(step.index as number) ?? 0;
    const abandonedCount = abandonedAt.get(step.index as number) ?? 0;
    return {
      stepId: step.id,
      stepKey: step.stepKey,
      stepName: step.name,
      index: step.index,
      reached: reachedCount,
      abandoned: abandonedCount,
      abandonmentRate: rate(abandonedCount, reachedCount),
    };
  });
  const top = funnel
    .filter((s) => s.abandoned > 0)
    .sort(
      (a, b) =>
        (b.abandonmentRate ?? 0) - (a.abandonmentRate ?? 0) ||
        b.abandoned - a.abandoned ||
        (a.index as number) - (b.index as number),
    )[0];
  const eventCounts = Object.fromEntries(
    EventType.options.map((type) => [type, Number(counts?.[type] ?? 0)]),
  );
  const seen = new Set(seenKnown.map((r) => r.step_key));
  const c = cohort ?? { sessions: 0, completed: 0, mobile: 0, with_device: 0, in_progress: 0 };
  return {
    healthMetrics: {
      hasSteps: steps.length > 0,
      hasRecentEvents: Object.values(eventCounts).some((n) => n > 0),
      sessionCount: c.sessions,
      hasSnapshot: snapshot !== undefined,
    },
    behaviorMetrics: {
      completionRate: rate(c.completed, c.sessions),
      mobileRate: rate(c.mobile, c.with_device),
      medianTimeToComplete: seconds(cohort?.p50 ?? null),
      topDropoffStep: top
        ? {
            stepId: top.stepId,
            stepKey: top.stepKey,
            stepName: top.stepName,
            abandonmentRate: top.abandonmentRate,
          }
        : null,
    },
    eventCountsLast24h: eventCounts,
    unmappedStepIds: steps.filter((s) => !seen.has(s.stepKey)).map((s) => s.id),
    lastArtifactCreated: snapshot ? { id: snapshot.id, createdAt: snapshot.created_at } : null,
    funnel,
    timeToComplete: { p75: seconds(cohort?.p75 ?? null), p90: seconds(cohort?.p90 ?? null) },
    unknownStepKeys: seenUnknown.map((r) => ({ stepKey: r.step_key, lastSeenAt: r.last_seen_at })),
    sessionsInProgress: c.in_progress,
  };
}
