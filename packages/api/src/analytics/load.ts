import { eventHourCounts, eventSessions, eventStepKeys, events, queryRows, snapshots } from "@odyssey/db";
import { and, desc, eq, gte, inArray, isNotNull, isNull, lt, notInArray, type SQL, sql } from "drizzle-orm";
import type { OrgContext } from "../context";
import type { Journey } from "../journeys/schema";
import { EventType, type FunnelStep, type JourneyAnalytics } from "./schema";
import {
  analyticsWindows,
  COHORT_DAYS,
  DAY_MS,
  IDLE_MINUTES,
  MINUTE_MS,
  roundToSeconds,
  UNKNOWN_STEP_KEYS_LIMIT,
  UNMAPPED_DAYS,
} from "./windows";

const count = () => sql<number>`count(*)`.mapWith(Number);
/** The hour rows' count columns (one per type, named as the type) added up. */
const countsPerType = Object.fromEntries(
  EventType.options.map((type) => [
    type,
    sql<number>`coalesce(sum(${sql.identifier(type)}), 0)`.mapWith(Number),
  ]),
) as Record<EventType, SQL<number>>;
const zeroCounts = () =>
  Object.fromEntries(EventType.options.map((type) => [type, 0])) as Record<EventType, number>;
const rate = (part: number, whole: number) => (whole === 0 ? null : part / whole);
/** Milliseconds from entry to the first submit_success (null for sessions without one). */
const msToComplete = sql`((extract(epoch from ${eventSessions.firstSuccessAt}) - extract(epoch from ${eventSessions.entryAt})) * 1000)::float8`;
const percentile = (p: number) =>
  sql<number | null>`percentile_cont(${sql.raw(String(p))}) within group (order by ${msToComplete})`.mapWith(
    Number,
  );

/** Retrieve's analytics as of `now`, and the first instant at which time alone would change them. */
export interface TimedAnalytics {
  analytics: JourneyAnalytics;
  /** Epoch ms: from here on a window boundary has crossed a stored time (a session left the cohort, went idle, …). */
  validUntil: number;
}

/**
 * Retrieve's analytics, read from the summaries that ingestion keeps current: the cost grows
 * with the steps and with the sessions of the 30-day cohort, never with the events stored.
 */
export async function loadJourneyAnalytics(op: {
  ctx: OrgContext;
  journey: Journey;
}): Promise<JourneyAnalytics> {
  return (await computeJourneyAnalytics(op)).analytics;
}

export async function computeJourneyAnalytics({
  ctx,
  journey,
}: {
  ctx: OrgContext;
  journey: Journey;
}): Promise<TimedAnalytics> {
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

  const [cohortRows, abandonedRows, reachedRows, countRows, edgeRows, seenKnown, seenUnknown, snapshotRows] =
    await Promise.all([
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
      db
        .select(countsPerType)
        .from(eventHourCounts)
        .where(
          and(
            eq(eventHourCounts.orgId, orgId),
            eq(eventHourCounts.journeyId, journey.id),
            gte(eventHourCounts.hour, w.wholeHoursFrom),
          ),
        ),
      // The trailing 24 hours start mid-hour: that hour's part is counted from its events.
      db
        .select({
          type: events.type,
          events: count(),
          earliest: sql<Date>`min(${events.occurredAt})`.mapWith(events.occurredAt),
        })
        .from(events)
        .where(
          and(
            eq(events.journeyId, journey.id),
            eq(events.orgId, orgId),
            gte(events.occurredAt, w.countsFrom),
            lt(events.occurredAt, w.wholeHoursFrom),
          ),
        )
        .groupBy(events.type),
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
        .orderBy(desc(snapshots.createdAt), desc(snapshots.id))
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
  const eventCounts = countRows[0] ?? zeroCounts();
  for (const row of edgeRows) if (row.type in eventCounts) eventCounts[row.type as EventType] += row.events;
  const hasRecentEvents = EventType.options.some((type) => eventCounts[type] > 0);
  const edgeEarliest = edgeRows.reduce<Date | null>(
    (min, row) => (min === null || row.earliest < min ? row.earliest : min),
    null,
  );
  const seen = new Set(seenKnown.map((r) => r.stepKey));
  const seconds = (ms: number | null) => (ms === null ? null : roundToSeconds(ms));
  const last = snapshotRows[0];

  // Each window is a lower bound `t >= now - span`: a stored time t leaves it at t + span + 1 ms.
  const leaves = (t: Date | null | undefined, span: number) => (t ? t.getTime() + span + 1 : Infinity);
  const validUntil = Math.min(
    leaves(cohort.firstEntryAt, COHORT_DAYS * DAY_MS),
    leaves(cohort.firstActiveAt, IDLE_MINUTES * MINUTE_MS),
    // The earliest event counted in the last 24 hours leaves them. Without one counted one by
    // one, it is in the first whole hour, which starts to leave 24 hours after it begins.
    edgeEarliest
      ? leaves(edgeEarliest, DAY_MS)
      : hasRecentEvents
        ? w.wholeHoursFrom.getTime() + DAY_MS
        : Infinity,
    ...seenKnown.map((r) => leaves(r.lastSeenAt, UNMAPPED_DAYS * DAY_MS)),
    ...seenUnknown.map((r) => leaves(r.lastSeenAt, UNMAPPED_DAYS * DAY_MS)),
  );

  const analytics: JourneyAnalytics = {
    healthMetrics: {
      hasSteps: journey.steps.length > 0,
      hasRecentEvents,
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
    eventCountsLast24h: eventCounts,
    unmappedStepIds: journey.steps.filter((s) => !seen.has(s.stepKey)).map((s) => s.id),
    lastArtifactCreated: last ? { id: last.id, createdAt: last.createdAt } : null,
    funnel,
    timeToComplete: { p75: seconds(cohort.p75), p90: seconds(cohort.p90) },
    unknownStepKeys: seenUnknown,
    sessionsInProgress: cohort.inProgress,
  };
  return { analytics, validUntil };
}
