// The exact windows behind Retrieve's figures (docs/analytics.md). Each is a lower bound only:
// events up to 5 minutes ahead of their receipt count as recent.

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export const COHORT_DAYS = 30;
export const IDLE_MINUTES = 30;
export const UNMAPPED_DAYS = 7;
export const UNKNOWN_STEP_KEYS_LIMIT = 100;

export function analyticsWindows(now: Date) {
  const t = now.getTime();
  return {
    /** Sessions whose entry is at or after this are the cohort. */
    cohortFrom: new Date(t - COHORT_DAYS * DAY_MS),
    /** A session whose last event is before this is idle (over 30 minutes old). */
    idleBefore: new Date(t - IDLE_MINUTES * MINUTE_MS),
    /** Events at or after this are in the trailing 24 hours. */
    countsFrom: new Date(t - DAY_MS),
    /**
     * The first whole UTC hour of those 24: the hour counts cover it and the hours after it;
     * the events between `countsFrom` and it (less than an hour) are counted one by one.
     */
    wholeHoursFrom: new Date(Math.ceil((t - DAY_MS) / HOUR_MS) * HOUR_MS),
    /** A step reached at or after this is mapped. */
    stepsSeenFrom: new Date(t - UNMAPPED_DAYS * DAY_MS),
  };
}

/**
 * When a stored time `t` leaves a window `t >= now - span`: at t + span + 1 ms. Never, for none.
 * Every `validUntil` is the earliest of these.
 */
export function leavesWindowAt(t: Date | number | null | undefined, span: number): number {
  if (t === null || t === undefined) return Number.POSITIVE_INFINITY;
  return (typeof t === "number" ? t : t.getTime()) + span + 1;
}

/** Seconds from milliseconds, to the nearest second, halves away from zero. */
export function roundToSeconds(ms: number): number {
  const seconds = ms / 1000;
  return Math.sign(seconds) * Math.round(Math.abs(seconds)) || 0;
}
