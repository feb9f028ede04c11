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

/** What the REST document says of a field: the contract's definition, in a sentence. */
const says = <T extends z.ZodType>(schema: T, description: string) => schema.meta({ description });

/** A rate is null, not 0, when its denominator is 0. */
const Rate = z.number().min(0).max(1).nullable();

export const HealthMetrics = z.object({
  hasSteps: says(z.boolean(), "The journey has at least one step."),
  hasRecentEvents: says(z.boolean(), "At least one event in the trailing 24 hours."),
  sessionCount: says(z.int(), "Sessions in the cohort: those whose entry is within the trailing 30 days."),
  hasSnapshot: says(z.boolean(), "At least one snapshot of the journey exists."),
});

export const DropoffStep = z.object({
  stepId: z.string(),
  stepKey: z.string(),
  stepName: z.string().nullable(),
  abandonmentRate: says(z.number(), "Abandoned ÷ reached cohort sessions at this step."),
});

export const BehaviorMetrics = z.object({
  completionRate: says(
    Rate,
    "Cohort sessions with a submit_success ÷ cohort sessions; null when there are none.",
  ),
  mobileRate: says(
    Rate,
    "Cohort sessions whose device is mobile ÷ cohort sessions whose device is known (that of a session's earliest event that has one); null when none is known.",
  ),
  medianTimeToComplete: says(
    z.int().nullable(),
    "Median, in seconds rounded to the nearest second, from entry to the first submit_success over the cohort sessions that have one; null when none has.",
  ),
  topDropoffStep: says(
    DropoffStep.nullable(),
    "The step with the highest abandonment rate (ties: more abandoned sessions, then the lower index); null when no step has an abandoned session.",
  ),
});

/** A count for every event type, zeros included (an object, so that every key is required). */
export const EventCounts = says(
  z.object(
    Object.fromEntries(EventType.options.map((type) => [type, z.int()])) as Record<EventType, z.ZodInt>,
  ),
  "Events by type in the trailing 24 hours, duplicates excluded; every type is present, zeros included.",
);

export const ArtifactRef = z.object({ id: z.string(), createdAt: z.date() });

/** One step of the cohort's funnel, with the same definitions as `topDropoffStep`. */
export const FunnelStep = z.object({
  stepId: z.string(),
  stepKey: z.string(),
  stepName: z.string().nullable(),
  index: z.int(),
  reached: says(z.int(), "Cohort sessions with a step_view of this step."),
  abandoned: says(
    z.int(),
    "Cohort sessions without submit_success, idle for over 30 minutes, whose furthest viewed step is this one.",
  ),
  abandonmentRate: says(Rate, "Abandoned ÷ reached; null when no session reached the step."),
});

export const TimeToComplete = says(
  z.object({
    p75: says(z.int().nullable(), "75th percentile, in seconds."),
    p90: says(z.int().nullable(), "90th percentile, in seconds."),
  }),
  "From entry to the first submit_success, over the cohort sessions that have one (percentile_cont, rounded to the nearest second); each is null when none has one.",
);

export const UnknownStepKey = z.object({ stepKey: z.string(), lastSeenAt: z.date() });

/** The figures Retrieve adds to a journey (the events and analytics contract, restated in docs/analytics.md). */
export const JourneyAnalytics = z.object({
  healthMetrics: HealthMetrics,
  behaviorMetrics: BehaviorMetrics,
  eventCountsLast24h: EventCounts,
  unmappedStepIds: says(
    z.array(z.string()),
    "Ids of the steps no event named in the trailing 7 days, in step order.",
  ),
  lastArtifactCreated: says(ArtifactRef.nullable(), "The newest snapshot of the journey, else null."),
  funnel: says(z.array(FunnelStep), "The cohort's funnel: each step, in step order."),
  timeToComplete: TimeToComplete,
  unknownStepKeys: says(
    z.array(UnknownStepKey),
    "Step keys that events named in the trailing 7 days but that are no step of the journey: at most 100, in byte order of the key.",
  ),
  sessionsInProgress: says(
    z.int(),
    "Cohort sessions without submit_success whose last event is at most 30 minutes old.",
  ),
});
export type JourneyAnalytics = z.infer<typeof JourneyAnalytics>;
export type FunnelStep = z.infer<typeof FunnelStep>;
