import { z } from "zod";

export const EventType = z.enum([
  "session_start",
  "step_view",
  "field_focus",
  "field_error",
  "submit_attempt",
  "submit_success",
  "submit_failure",
]);
export type EventType = z.infer<typeof EventType>;

/** A rate is null, not 0, when its denominator is 0. */
const Rate = z.number().min(0).max(1).nullable();

export const HealthMetrics = z.object({
  hasSteps: z.boolean(),
  hasRecentEvents: z.boolean(),
  sessionCount: z.int(),
  hasSnapshot: z.boolean(),
});

export const DropoffStep = z.object({
  stepId: z.string(),
  stepKey: z.string(),
  stepName: z.string().nullable(),
  abandonmentRate: z.number(),
});

export const BehaviorMetrics = z.object({
  completionRate: Rate,
  mobileRate: Rate,
  /** Seconds, rounded to the nearest second. */
  medianTimeToComplete: z.int().nullable(),
  topDropoffStep: DropoffStep.nullable(),
});

/** A count for every event type, zeros included (an object, so that every key is required). */
export const EventCounts = z.object(
  Object.fromEntries(EventType.options.map((type) => [type, z.int()])) as Record<EventType, z.ZodInt>,
);

export const ArtifactRef = z.object({ id: z.string(), createdAt: z.date() });

/** One step of the cohort's funnel, with the same definitions as `topDropoffStep`. */
export const FunnelStep = z.object({
  stepId: z.string(),
  stepKey: z.string(),
  stepName: z.string().nullable(),
  index: z.int(),
  /** Cohort sessions with a step_view of this step. */
  reached: z.int(),
  /** Cohort sessions without submit_success, idle for over 30 minutes, whose furthest step this is. */
  abandoned: z.int(),
  abandonmentRate: Rate,
});

/** Seconds from entry to the first submit_success over the cohort (percentile_cont, rounded). */
export const TimeToComplete = z.object({
  p75: z.int().nullable(),
  p90: z.int().nullable(),
});

/** A step key that events named in the trailing 7 days but that is no step of the journey. */
export const UnknownStepKey = z.object({ stepKey: z.string(), lastSeenAt: z.date() });

/** The figures Retrieve adds to a journey (the events and analytics contract, restated in docs/analytics.md). */
export const JourneyAnalytics = z.object({
  healthMetrics: HealthMetrics,
  behaviorMetrics: BehaviorMetrics,
  eventCountsLast24h: EventCounts,
  unmappedStepIds: z.array(z.string()),
  lastArtifactCreated: ArtifactRef.nullable(),
  /** Per step, in step order. */
  funnel: z.array(FunnelStep),
  timeToComplete: TimeToComplete,
  /** At most 100, in byte order of the key. */
  unknownStepKeys: z.array(UnknownStepKey),
  /** Cohort sessions without submit_success whose last event is at most 30 minutes old. */
  sessionsInProgress: z.int(),
});
export type JourneyAnalytics = z.infer<typeof JourneyAnalytics>;
export type FunnelStep = z.infer<typeof FunnelStep>;
