import { analyticsVersions, type Database, type Queryable } from "@odyssey/db";
import { sql } from "drizzle-orm";
import type { OrgContext } from "../context";
import type { Journey } from "../journeys/schema";
import { type CohortAnalytics, computeCohortAnalytics, withRecentCounts } from "./load";
import { computeRecentCounts, type RecentCounts, type Timed } from "./recent-counts";
import type { JourneyAnalytics } from "./schema";

// Retrieve's analytics read every session of the 30-day cohort: on a busy journey that is most
// of a second of database work, repeated by every caller. Their inputs change only when events
// are stored or a snapshot is taken, and both move the journey's analytics version on in the
// same transaction; time changes them only when a window boundary crosses a stored time, which
// `validUntil` names. So an answer computed once is exact for every later call that reads the
// same version before `validUntil`, in any process, and concurrent callers share one computation.
// The trailing 24 hours' counts are kept apart: on a busy journey one of their events turns 24
// hours old every few seconds, and each time only those counts (two small queries) are read
// again, not the cohort.

/** Journeys kept per database; the least recently read is dropped first. */
const CAPACITY = 1_000;

/** A part computed for the `now` at `computedAt` (epoch ms). */
interface Computed<T> {
  computedAt: number;
  result: Promise<Timed<T>>;
}

interface Entry {
  /** The analytics version and the steps the answer was computed for. */
  version: string;
  steps: string;
  cohort: Computed<CohortAnalytics>;
  recent: Computed<RecentCounts>;
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
  const at = ctx.now ?? new Date();
  const now = at.getTime();
  const op = { ctx: { ...ctx, now: at }, journey };
  const cache = cacheOf(ctx.db);
  const id = `${ctx.orgId}\u0000${journey.id}`;
  const steps = stepsFingerprint(journey);
  const compute = <T>(part: (o: typeof op) => Promise<Timed<T>>): Computed<T> => ({
    computedAt: now,
    result: part(op),
  });

  let entry = cache.get(id);
  const cohort =
    entry && entry.version === version && entry.steps === steps
      ? await current(entry.cohort, now)
      : undefined;
  if (!entry || !cohort) {
    entry = { version, steps, cohort: compute(computeCohortAnalytics), recent: compute(computeRecentCounts) };
  } else if (!(await current(entry.recent, now))) {
    entry.recent = compute(computeRecentCounts);
  }
  cache.delete(id);
  cache.set(id, entry);
  if (cache.size > CAPACITY) cache.delete(cache.keys().next().value as string);
  try {
    const [c, r] = await Promise.all([entry.cohort.result, entry.recent.result]);
    return withRecentCounts(c.value, r.value);
  } catch (error) {
    if (cache.get(id) === entry) cache.delete(id);
    throw error;
  }
}

/** A part's value when it was computed for a time no later than `now` and still holds then. */
async function current<T>(part: Computed<T>, now: number): Promise<T | undefined> {
  if (part.computedAt > now) return undefined;
  const timed = await part.result.catch(() => undefined);
  return timed && now < timed.validUntil ? timed.value : undefined;
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
