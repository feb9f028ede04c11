import type { AppRouter } from "@odyssey/api";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";

// Every type here is derived from the server's router, never retyped: the published
// declarations carry the router's shapes inlined, so nothing else needs installing.

export type { AppRouter };

/** The input of every procedure, e.g. `RouterInputs["journeys"]["create"]`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** The output of every procedure, e.g. `RouterOutputs["journeys"]["get"]`; dates are `Date`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** A journey with its steps, as create, update and list return it. */
export type Journey = RouterOutputs["journeys"]["create"];
/** A journey with its analytics, as get returns it. */
export type JourneyDetail = RouterOutputs["journeys"]["get"];
/** One step of a journey. */
export type Step = Journey["steps"][number];
export type JourneyList = RouterOutputs["journeys"]["list"];

export type CreateJourneyInput = RouterInputs["journeys"]["create"];
export type UpdateJourneyInput = RouterInputs["journeys"]["update"];
export type StepInput = NonNullable<CreateJourneyInput["steps"]>[number];

export type HealthMetrics = JourneyDetail["healthMetrics"];
export type BehaviorMetrics = JourneyDetail["behaviorMetrics"];

/** A frozen copy of a journey's configuration and analytics. */
export type Snapshot = RouterOutputs["journeys"]["snapshots"]["create"];
/** A page of a journey's snapshots, newest first, and the cursor of the next page (null on the last). */
export type SnapshotList = RouterOutputs["journeys"]["snapshots"]["list"];

/** The kinds of event a journey's forms send. */
export type EventType = keyof JourneyDetail["eventCountsLast24h"];
/** Counts of events by type, every type present. */
export type EventCounts = JourneyDetail["eventCountsLast24h"];
/** A batch of events for `events.ingest`; the server checks each event on its own, so one bad event does not sink the batch. */
export type IngestEventsInput = RouterInputs["events"]["ingest"];
/** One event as a form sends it. */
export type TrackedEvent = IngestEventsInput["events"][number];
/** What `events.ingest` answers once the batch is committed. */
export type IngestEventsResult = RouterOutputs["events"]["ingest"];
/** An event of the batch the server refused, by its index, with the reason. */
export type RejectedEvent = IngestEventsResult["rejected"][number];
