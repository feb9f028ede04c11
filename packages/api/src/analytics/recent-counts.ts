import { eventHourCounts, events } from "@odyssey/db";
import { and, count, eq, gte, lt, type SQL, sql } from "drizzle-orm";
import type { Journey } from "../journeys/schema";
import type { AnalyticsReader } from "./load";
import { EventType } from "./schema";
import { analyticsWindows, DAY_MS, leavesWindowAt } from "./windows";

/** Part of Retrieve's analytics, and the first instant (epoch ms) at which time alone changes it. */
export interface Timed<T> {
  value: T;
  validUntil: number;
}

/** The trailing 24 hours' figures, which change each time a counted event turns 24 hours old. */
export interface RecentCounts {
  hasRecentEvents: boolean;
  eventCountsLast24h: Record<EventType, number>;
}

/** The hour rows' count columns (one per type, named as the type) added up. */
const countsPerType = Object.fromEntries(
  EventType.options.map((type) => [
    type,
    sql<number>`coalesce(sum(${sql.identifier(type)}), 0)`.mapWith(Number),
  ]),
) as Record<EventType, SQL<number>>;
const zeroCounts = () =>
  Object.fromEntries(EventType.options.map((type) => [type, 0])) as Record<EventType, number>;

/**
 * Events per type in the trailing 24 hours: the whole UTC hours from the hour counts, and the
 * hour those 24 hours start in from its own events (less than an hour of one journey's traffic,
 * through the `(journey_id, occurred_at)` index).
 */
export async function computeRecentCounts({
  ctx,
  journey,
}: {
  ctx: AnalyticsReader;
  journey: Journey;
}): Promise<Timed<RecentCounts>> {
  const { db, orgId } = ctx;
  const w = analyticsWindows(ctx.now ?? new Date());
  const [hourRows, edgeRows] = await Promise.all([
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
  ]);

  const counts = hourRows[0] ?? zeroCounts();
  let earliest: number | null = null;
  for (const row of edgeRows) {
    if (row.type in counts) counts[row.type as EventType] += row.events;
    const t = row.earliest.getTime();
    if (earliest === null || t < earliest) earliest = t;
  }
  const hasRecentEvents = EventType.options.some((type) => counts[type] > 0);
  // The earliest event counted leaves first. When none is counted one by one, it is in the first
  // whole hour, which starts to leave 24 hours after that hour begins.
  const validUntil =
    earliest !== null
      ? leavesWindowAt(earliest, DAY_MS)
      : hasRecentEvents
        ? w.wholeHoursFrom.getTime() + DAY_MS
        : Number.POSITIVE_INFINITY;
  return { value: { hasRecentEvents, eventCountsLast24h: counts }, validUntil };
}
