const eventTypes = [
  "session_start",
  "step_view",
  "field_focus",
  "field_error",
  "submit_attempt",
  "submit_success",
  "submit_failure",
];

/** Retrieve's analytics for a journey without stored events: what the server answers today. */
export async function emptyAnalytics(steps: { id: unknown }[]) {
  return {
    healthMetrics: {
      hasSteps: steps.length > 0,
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
    eventCountsLast24h: Object.fromEntries(eventTypes.map((type) => [type, 0])),
    unmappedStepIds: steps.map((step) => step.id),
    lastArtifactCreated: null,
  };
}
