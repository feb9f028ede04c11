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

export const EventCounts = z.record(EventType, z.int());

export const ArtifactRef = z.object({ id: z.string(), createdAt: z.date() });

/** The figures Retrieve adds to a journey (events-and-analytics.md). */
export const JourneyAnalytics = z.object({
  healthMetrics: HealthMetrics,
  behaviorMetrics: BehaviorMetrics,
  eventCountsLast24h: EventCounts,
  unmappedStepIds: z.array(z.string()),
  lastArtifactCreated: ArtifactRef.nullable(),
});
export type JourneyAnalytics = z.infer<typeof JourneyAnalytics>;
