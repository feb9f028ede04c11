import { eventSessions, eventStepKeys, type Queryable, queryRows, snapshots } from "@odyssey/db";
import { and, count, desc, eq, gte, inArray, isNotNull, isNull, lt, notInArray, sql } from "drizzle-orm";
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
const percentile = (p: number) =>
  sql<number | null>`percentile_cont(${sql.raw(String(p))}) within group (order by ${msToComplete})`.mapWith(
    Number,
  );

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

  const [cohortRows, abandonedRows, reachedRows, seenKnown, seenUnknown, snapshotRows] = await Promise.all([
    db
      .select({
        sessions: count(),
        completed: sql<number>`count(${eventSessions.firstSuccessAt})`.mapWith(Number),
        mobile: sql<number>`count(*) filter (where ${eventSessions.device} = 'mobile')`.mapWith(Number),
        withDevice: sql<number>`count(${eventSessions.device})`.mapWith(Number),
        inProgress: sql<number>`count(*) filter (where ${eventSessions.firstSuccessAt} is null
          and ${eventSessions.lastEventAt} >= ${w.idleBefore.toISOString()}::timestamptz)`.mapWith(Number),
        p50: percentile(0.5),
        p75: percentile(0.75),
        p90: percentile(0.9),
        firstEntryAt: sql<Date | null>`min(${eventSessions.entryAt})`.mapWith(eventSessions.entryAt),
        firstActiveAt:
          sql<Date | null>`min(${eventSessions.lastEventAt}) filter (where ${eventSessions.firstSuccessAt} is null
          and ${eventSessions.lastEventAt} >= ${w.idleBefore.toISOString()}::timestamptz)`.mapWith(
            eventSessions.lastEventAt,
          ),
      })
      .from(eventSessions)
      .where(ofSessions),
    db
      .select({ index: eventSessions.furthestStepIndex, sessions: count() })
      .from(eventSessions)
      .where(
        and(
          ofSessions,
          isNull(eventSessions.firstSuccessAt),
          lt(eventSessions.lastEventAt, w.idleBefore),
          isNotNull(eventSessions.furthestStepIndex),
        ),
      )
      .groupBy(eventSessions.furthestStepIndex),
    // Reached: the cohort's sessions unnested by viewed step, no other table read.
    queryRows<{ index: number; sessions: number }>(
      db,
      sql`select step.index::int as index, count(*)::int as sessions
          from ${eventSessions}, unnest(${eventSessions.viewedStepIndexes}) as step(index)
          where ${ofSessions}
          group by step.index`,
    ),
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

  const cohort = cohortRows[0] ?? {
    sessions: 0,
    completed: 0,
    mobile: 0,
    withDevice: 0,
    inProgress: 0,
    p50: null,
    p75: null,
    p90: null,
    firstEntryAt: null,
    firstActiveAt: null,
  };
  const abandonedAt = new Map(abandonedRows.map((r) => [r.index, r.sessions]));
  const reachedAt = new Map(reachedRows.map((r) => [r.index, r.sessions]));
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
