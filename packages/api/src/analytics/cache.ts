import type { Database } from "@odyssey/db";
import type { OrgContext } from "../context";
import type { Journey } from "../journeys/schema";
import { type AnalyticsParts, readAnalytics, withRecentCounts } from "./load";
import type { Timed } from "./recent-counts";
import type { JourneyAnalytics } from "./schema";

// Retrieve's analytics read every session of the 30-day cohort: on a busy journey that is most
// of a second of database work, repeated by every caller. Their inputs change only when events
// are stored or a snapshot is taken, and both move the journey's analytics version on in the
// same transaction; time changes them only when a window boundary crosses a stored time, which
// `validUntil` names. So an answer computed once is exact for every later call that reads the
// same version before `validUntil`, in any process, and concurrent callers share one computation.
// The trailing 24 hours' counts are kept apart: on a busy journey one of their events turns 24
// hours old every few seconds, and each time only those counts (two small queries) are read
// again with the cohort part kept, when the version read with them is still the one the cohort
// part was read at (analytics/load.ts), so that every answer is of one moment.

/** Journeys kept per database; the least recently read is dropped first. */
const CAPACITY = 1_000;

interface Entry {
  /** The steps the answer was computed for (the funnel names and orders them). */
  steps: string;
  parts: Promise<AnalyticsParts>;
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

const stepsFingerprint = (journey: Journey) =>
  JSON.stringify(journey.steps.map((s) => [s.id, s.stepKey, s.name, s.index]));

/** A part computed at `computedAt` (epoch ms) for a time no later than `now`, and still holding then. */
const holds = (part: Timed<unknown>, computedAt: number, now: number) =>
  computedAt <= now && now < part.validUntil;

/**
 * The journey's analytics as `readAnalytics` computes them, reused while the version is not
 * older than `version` (read with the journey, before this call) and no window boundary has
 * been crossed.
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
  const earlier = entry && entry.steps === steps ? await entry.parts.catch(() => undefined) : undefined;
  const usable = earlier && BigInt(earlier.version) >= BigInt(version) ? earlier : undefined;
  if (usable && holds(usable.cohort, usable.cohortAt, now) && holds(usable.recent, usable.recentAt, now))
    return withRecentCounts(usable.cohort.value, usable.recent.value);

  // A caller that arrived while this was awaited may have started the same read: share it.
  const started = cache.get(id);
  const fresh: Entry =
    started && started !== entry && started.steps === steps
      ? started
      : {
          steps,
          parts: readAnalytics({
            ctx: { db: ctx.db, orgId: ctx.orgId, now: new Date(now) },
            journey,
            keep: usable && {
              parts: usable,
              cohortHolds: (parts) => holds(parts.cohort, parts.cohortAt, now),
            },
          }),
        };
  cache.delete(id);
  cache.set(id, fresh);
  if (cache.size > CAPACITY) cache.delete(cache.keys().next().value as string);
  try {
    const parts = await fresh.parts;
    return withRecentCounts(parts.cohort.value, parts.recent.value);
  } catch (error) {
    if (cache.get(id) === fresh) cache.delete(id);
    throw error;
  }
}
