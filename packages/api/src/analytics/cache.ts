import { analyticsVersions, type Database, type Queryable } from "@odyssey/db";
import { sql } from "drizzle-orm";
import type { OrgContext } from "../context";
import type { Journey } from "../journeys/schema";
import { computeJourneyAnalytics, type TimedAnalytics } from "./load";
import type { JourneyAnalytics } from "./schema";

// Retrieve's analytics read every session of the 30-day cohort: on a busy journey that is most
// of a second of database work, repeated by every caller. Their inputs change only when events
// are stored or a snapshot is taken, and both move the journey's analytics version on in the
// same transaction; time changes them only when a window boundary crosses a stored time, which
// `validUntil` names. So an answer computed once is exact for every later call that reads the
// same version before `validUntil`, in any process, and concurrent callers share one computation.

/** Journeys kept per database; the least recently read is dropped first. */
const CAPACITY = 1_000;

interface Entry {
  /** The analytics version and the steps the answer was computed for. */
  version: string;
  steps: string;
  /** Epoch ms of the `now` the answer was computed for. */
  computedAt: number;
  result: Promise<TimedAnalytics>;
}

const caches = new WeakMap<Database, Map<string, Entry>>();

function cacheOf(db: Database): Map<string, Entry> {
  let cache = caches.get(db);
  if (!cache) {
    cache = new Map();
    caches.set(db, cache);
  }
  return cache;
}

/** What of the journey itself the analytics depend on (the funnel names and orders the steps). */
const stepsFingerprint = (journey: Journey) =>
  JSON.stringify(journey.steps.map((s) => [s.id, s.stepKey, s.name, s.index]));

/**
 * The journey's analytics as `loadJourneyAnalytics` computes them, reused while `version` (read
 * with the journey, before this call) is unchanged and no window boundary has been crossed.
 */
export async function journeyAnalytics({
  ctx,
  journey,
  version,
}: {
  ctx: OrgContext;
  journey: Journey;
  version: string;
}): Promise<JourneyAnalytics> {
  const now = (ctx.now ?? new Date()).getTime();
  const cache = cacheOf(ctx.db);
  const id = `${ctx.orgId}\u0000${journey.id}`;
  const steps = stepsFingerprint(journey);
  const entry = cache.get(id);
  if (entry && entry.version === version && entry.steps === steps && entry.computedAt <= now) {
    const shared = await entry.result.catch(() => undefined);
    if (shared && now < shared.validUntil) {
      cache.delete(id);
      cache.set(id, entry);
      return shared.analytics;
    }
  }
  const fresh: Entry = { version, steps, computedAt: now, result: computeJourneyAnalytics({ ctx, journey }) };
  cache.delete(id);
  cache.set(id, fresh);
  if (cache.size > CAPACITY) cache.delete(cache.keys().next().value as string);
  try {
    return (await fresh.result).analytics;
  } catch (error) {
    if (cache.get(id) === fresh) cache.delete(id);
    throw error;
  }
}

/** The SQL expression of a journey's analytics version (the sum of its shards), as text. */
export const analyticsVersionOf = (orgId: unknown, journeyId: unknown) =>
  sql<string>`(select coalesce(sum(${analyticsVersions.version}), 0)::text from ${analyticsVersions}
    where ${analyticsVersions.orgId} = ${orgId} and ${analyticsVersions.journeyId} = ${journeyId})`;

/** Moves a journey's analytics version on: call it in the transaction that changes an input. */
export async function advanceAnalyticsVersion(
  db: Queryable,
  orgId: string,
  journeyId: string,
): Promise<void> {
  await db
    .insert(analyticsVersions)
    .values({ orgId, journeyId, shard: 0, version: 1 })
    .onConflictDoUpdate({
      target: [analyticsVersions.orgId, analyticsVersions.journeyId, analyticsVersions.shard],
      set: { version: sql`${analyticsVersions.version} + 1` },
    });
}
