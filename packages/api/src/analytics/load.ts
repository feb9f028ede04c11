import { eventSessions, eventStepKeys, type Queryable, queryRows, snapshots } from "@odyssey/db";
import { and, desc, eq, gte, inArray, notInArray, type SQL, sql } from "drizzle-orm";
import type { Journey } from "../journeys/schema";
import { computeRecentCounts, type RecentCounts, type Timed } from "./recent-counts";
import type { FunnelStep, JourneyAnalytics } from "./schema";
import { analyticsVersionOf } from "./version";
import {
  analyticsWindows,
  COHORT_DAYS,
  DAY_MS,
  IDLE_MINUTES,
  leavesWindowAt,
  MINUTE_MS,
  roundToSeconds,
  UNKNOWN_STEP_KEYS_LIMIT,
  UNMAPPED_DAYS,
} from "./windows";

const rate = (part: number, whole: number) => (whole === 0 ? null : part / whole);
/** Milliseconds from entry to the first submit_success (null for sessions without one). */
const msToComplete = sql`((extract(epoch from ${eventSessions.firstSuccessAt}) - extract(epoch from ${eventSessions.entryAt})) * 1000)::float8`;

/** Retrieve's analytics but the trailing 24 hours' counts, whose windows move far less often. */
export type CohortAnalytics = Omit<JourneyAnalytics, "eventCountsLast24h" | "healthMetrics"> & {
  healthMetrics: Omit<JourneyAnalytics["healthMetrics"], "hasRecentEvents">;
};

/** What the analytics queries need: where to read (a database or a transaction) and for whom. */
export interface AnalyticsReader {
  db: Queryable;
  orgId: string;
  now?: Date | undefined;
}

/** Both parts of Retrieve's analytics, as read in one transaction, and the version they are of. */
export interface AnalyticsParts {
  /** The journey's analytics version as that transaction saw it (analytics/cache.ts). */
  version: string;
  cohort: Timed<CohortAnalytics>;
  /** When (epoch ms) the cohort part was computed: a part kept from an earlier read is older. */
  cohortAt: number;
  recent: Timed<RecentCounts>;
  recentAt: number;
}

/**
 * Retrieve's analytics, read from the summaries that ingestion keeps current: the cost grows
 * with the steps, with the sessions of the 30-day cohort and with at most an hour of the
 * journey's events, never with the events stored.
 *
 * Every query runs in one read-only REPEATABLE READ transaction, so all the figures are of one
 * moment even while batches commit between the queries (a snapshot stores them for good).
 * `keep` is an earlier read whose cohort part may be reused: only when it is of the version this
 * transaction sees (the same stored events) and `keepCohort` says it still holds.
 */
export async function readAnalytics({
  ctx,
  journey,
  keep,
}: {
  ctx: AnalyticsReader;
  journey: Journey;
  keep?: { parts: AnalyticsParts; cohortHolds: (parts: AnalyticsParts) => boolean } | undefined;
}): Promise<AnalyticsParts> {
  const now = ctx.now ?? new Date();
  return ctx.db.transaction(
    async (tx) => {
      const [row] = await queryRows<{ version: string }>(
        tx,
        sql`select ${analyticsVersionOf(ctx.orgId, journey.id)} as version`,
      );
      const version = row?.version ?? "0";
      const reader = { db: tx, orgId: ctx.orgId, now };
      const kept =
        keep && keep.parts.version === version && keep.cohortHolds(keep.parts) ? keep.parts : undefined;
      const [cohort, recent] = await Promise.all([
        kept?.cohort ?? computeCohortAnalytics({ ctx: reader, journey }),
        computeRecentCounts({ ctx: reader, journey }),
      ]);
      return { version, cohort, cohortAt: kept?.cohortAt ?? now.getTime(), recent, recentAt: now.getTime() };
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
}

/** Retrieve's analytics as of now, computed afresh (a snapshot freezes them). */
export async function loadJourneyAnalytics({
  ctx,
  journey,
}: {
  ctx: AnalyticsReader;
  journey: Journey;
}): Promise<JourneyAnalytics> {
  const parts = await readAnalytics({ ctx, journey });
  return withRecentCounts(parts.cohort.value, parts.recent.value);
}

/** The two parts as one answer, in the order the contract lists the fields. */
export function withRecentCounts(cohort: CohortAnalytics, recent: RecentCounts): JourneyAnalytics {
  const { healthMetrics, behaviorMetrics, ...rest } = cohort;
  return {
    healthMetrics: {
      hasSteps: healthMetrics.hasSteps,
      hasRecentEvents: recent.hasRecentEvents,
      sessionCount: healthMetrics.sessionCount,
      hasSnapshot: healthMetrics.hasSnapshot,
    },
    behaviorMetrics,
    eventCountsLast24h: recent.eventCountsLast24h,
    ...rest,
  };
}

/** The cohort's counts, read by `cohortStatement` in one pass over its sessions. */
interface CohortRow extends Record<string, unknown> {
  sessions: number;
  completed: number;
  mobile: number;
  withDevice: number;
  inProgress: number;
  /** Epoch ms of the earliest entry, null for an empty cohort. */
  firstEntryAt: number | null;
  /** Epoch ms of the earliest last event of a session in progress, null for none. */
  firstActiveAt: number | null;
  /** The funnel's reached counts: sessions that viewed each step index. */
  reachedIndexes: number[];
  reachedSessions: number[];
  /** The funnel's abandoned counts: idle sessions without success, by furthest step index. */
  abandonedIndexes: number[];
  abandonedSessions: number[];
  /** Percentiles of the completed sessions' time to complete, in ms; null for none. */
  p50: number | null;
  p75: number | null;
  p90: number | null;
}

/** Step index → sessions, from the statement's two parallel arrays. */
const countsByIndex = (indexes: number[], sessions: number[]) =>
  new Map(indexes.map((index, i) => [index, sessions[i] ?? 0]));

/**
 * Every figure of the cohort in one scan of its sessions. They are first grouped by what the
 * figures tell apart (the steps viewed, the furthest step, completed or not, idle or not): forms
 * are filled in step order, so a few groups stand for many thousands of sessions, and the funnel
 * unnests each group's steps once instead of each session's. The states are grouped as two
 * booleans, which the planner knows have two values each, so it expects as few groups as there
 * are; a CASE expression of unknown spread made it expect one group per two sessions. Each group
 * also keeps its completed sessions' times, for the percentiles, which no count can give: read
 * apart, they cost a second scan of the cohort (docs/benchmarks.md, fix 33).
 */
function cohortStatement(ofSessions: SQL | undefined, idleBefore: Date): SQL {
  const s = eventSessions;
  return sql`
    with grouped as (
      select ${s.viewedStepIndexes} as viewed, ${s.furthestStepIndex} as furthest,
        ${s.firstSuccessAt} is not null as completed,
        ${s.lastEventAt} < ${idleBefore.toISOString()}::timestamptz as idle,
        count(*) as sessions,
        count(*) filter (where ${s.device} = 'mobile') as mobile,
        count(${s.device}) as with_device,
        min(${s.entryAt}) as first_entry_at,
        min(${s.lastEventAt}) as first_last_event_at,
        array_agg(${msToComplete}) filter (where ${s.firstSuccessAt} is not null) as completed_ms
      from ${s} where ${ofSessions}
      group by 1, 2, 3, 4
    ), reached as (
      select step.index, sum(sessions)::int as sessions
      from grouped, unnest(grouped.viewed) as step(index)
      group by step.index
    ), abandoned as (
      select furthest as index, sum(sessions)::int as sessions
      from grouped where not completed and idle and furthest is not null
      group by furthest
    ), percentiles as (
      select percentile_cont(array[0.5, 0.75, 0.9]) within group (order by ms) as p
      from grouped, unnest(grouped.completed_ms) as ms
    )
    select
      coalesce(sum(sessions), 0)::int as "sessions",
      coalesce(sum(sessions) filter (where completed), 0)::int as "completed",
      coalesce(sum(mobile), 0)::int as "mobile",
      coalesce(sum(with_device), 0)::int as "withDevice",
      coalesce(sum(sessions) filter (where not completed and not idle), 0)::int as "inProgress",
      (extract(epoch from min(first_entry_at)) * 1000)::float8 as "firstEntryAt",
      (extract(epoch from min(first_last_event_at) filter (where not completed and not idle)) * 1000)::float8
        as "firstActiveAt",
      array(select index from reached order by index) as "reachedIndexes",
      array(select sessions from reached order by index) as "reachedSessions",
      array(select index from abandoned order by index) as "abandonedIndexes",
      array(select sessions from abandoned order by index) as "abandonedSessions",
      (select p[1] from percentiles) as "p50",
      (select p[2] from percentiles) as "p75",
      (select p[3] from percentiles) as "p90"
    from grouped`;
}

async function computeCohortAnalytics({
  ctx,
  journey,
}: {
  ctx: AnalyticsReader;
  journey: Journey;
}): Promise<Timed<CohortAnalytics>> {
  const { db, orgId } = ctx;
  const now = (ctx.now ?? new Date()).getTime();
  const w = analyticsWindows(new Date(now));
  const ofSessions = and(
    eq(eventSessions.orgId, orgId),
    eq(eventSessions.journeyId, journey.id),
    gte(eventSessions.entryAt, w.cohortFrom),
  );
  const stepKeys = journey.steps.map((s) => s.stepKey);
  const recentKeys = and(
    eq(eventStepKeys.orgId, orgId),
    eq(eventStepKeys.journeyId, journey.id),
    gte(eventStepKeys.lastSeenAt, w.stepsSeenFrom),
  );

  const [[cohort], seenKnown, seenUnknown, snapshotRows] = await Promise.all([
    queryRows<CohortRow>(db, cohortStatement(ofSessions, w.idleBefore)),
    stepKeys.length
      ? db
          .select({
            stepKey: eventStepKeys.stepKey,
            lastSeenAt: sql<Date>`max(${eventStepKeys.lastSeenAt})`.mapWith(eventStepKeys.lastSeenAt),
          })
          .from(eventStepKeys)
          .where(and(recentKeys, inArray(eventStepKeys.stepKey, stepKeys)))
          .groupBy(eventStepKeys.stepKey)
      : [],
    db
      .select({
        stepKey: eventStepKeys.stepKey,
        // The latest of the key's shards.
        lastSeenAt: sql<Date>`max(${eventStepKeys.lastSeenAt})`.mapWith(eventStepKeys.lastSeenAt),
      })
      .from(eventStepKeys)
      .where(stepKeys.length ? and(recentKeys, notInArray(eventStepKeys.stepKey, stepKeys)) : recentKeys)
      .groupBy(eventStepKeys.stepKey)
      .orderBy(sql`${eventStepKeys.stepKey} collate "C"`)
      .limit(UNKNOWN_STEP_KEYS_LIMIT),
    db
      .select({ id: snapshots.id, createdAt: snapshots.createdAt })
      .from(snapshots)
      .where(and(eq(snapshots.orgId, orgId), eq(snapshots.journeyId, journey.id)))
      .orderBy(desc(snapshots.createdAt), desc(snapshots.seq))
      .limit(1),
  ]);

  if (!cohort) throw new Error("An aggregate without GROUP BY answered no row");
  const reachedAt = countsByIndex(cohort.reachedIndexes, cohort.reachedSessions);
  const abandonedAt = countsByIndex(cohort.abandonedIndexes, cohort.abandonedSessions);
  const funnel: FunnelStep[] = journey.steps.map((step) => {
    const reached = reachedAt.get(step.index) ?? 0;
    const abandoned = abandonedAt.get(step.index) ?? 0;
    return {
      stepId: step.id,
      stepKey: step.stepKey,
      stepName: step.name,
      index: step.index,
      reached,
      abandoned,
      abandonmentRate: rate(abandoned, reached),
    };
  });
  const top = funnel
    .filter((s) => s.abandoned > 0)
    .sort(
      (a, b) =>
        (b.abandonmentRate ?? 0) - (a.abandonmentRate ?? 0) || b.abandoned - a.abandoned || a.index - b.index,
    )[0];
  const seen = new Set(seenKnown.map((r) => r.stepKey));
  const seconds = (ms: number | null) => (ms === null ? null : roundToSeconds(ms));
  const last = snapshotRows[0];

  const validUntil = Math.min(
    leavesWindowAt(cohort.firstEntryAt, COHORT_DAYS * DAY_MS),
    leavesWindowAt(cohort.firstActiveAt, IDLE_MINUTES * MINUTE_MS),
    ...seenKnown.map((r) => leavesWindowAt(r.lastSeenAt, UNMAPPED_DAYS * DAY_MS)),
    ...seenUnknown.map((r) => leavesWindowAt(r.lastSeenAt, UNMAPPED_DAYS * DAY_MS)),
  );

  const analytics: CohortAnalytics = {
    healthMetrics: {
      hasSteps: journey.steps.length > 0,
      sessionCount: cohort.sessions,
      hasSnapshot: last !== undefined,
    },
    behaviorMetrics: {
      completionRate: rate(cohort.completed, cohort.sessions),
      mobileRate: rate(cohort.mobile, cohort.withDevice),
      medianTimeToComplete: seconds(cohort.p50),
      topDropoffStep: top
        ? {
            stepId: top.stepId,
            stepKey: top.stepKey,
            stepName: top.stepName,
            abandonmentRate: top.abandonmentRate ?? 0,
          }
        : null,
    },
    unmappedStepIds: journey.steps.filter((s) => !seen.has(s.stepKey)).map((s) => s.id),
    lastArtifactCreated: last ? { id: last.id, createdAt: last.createdAt } : null,
    funnel,
    timeToComplete: { p75: seconds(cohort.p75), p90: seconds(cohort.p90) },
    unknownStepKeys: seenUnknown,
    sessionsInProgress: cohort.inProgress,
  };
  return { value: analytics, validUntil };
}
