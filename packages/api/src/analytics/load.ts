import type { OrgContext } from "../context";
import type { Journey } from "../journeys/schema";
import { EventType, type JourneyAnalytics } from "./schema";

/**
 * The one place Retrieve's analytics come from. Events are not stored yet, so every figure
 * is that of a journey that has received none.
 */
export async function loadJourneyAnalytics({
  journey,
}: {
  ctx: OrgContext;
  journey: Journey;
}): Promise<JourneyAnalytics> {
  return {
    healthMetrics: {
      hasSteps: journey.steps.length > 0,
      hasRecentEvents: false,
      sessionCount: 0,
      hasSnapshot: false,
    },
    behaviorMetrics: {
      completionRate: null,
      mobileRate: null,
      medianTimeToComplete: null,
      topDropoffStep: null,
    },
    eventCountsLast24h: Object.fromEntries(EventType.options.map((type) => [type, 0])) as Record<
      EventType,
      number
    >,
    unmappedStepIds: journey.steps.map((step) => step.id),
    lastArtifactCreated: null,
  };
}
