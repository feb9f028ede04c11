import { z } from "zod";
import { JourneyAnalytics } from "../analytics/schema";
import { Journey } from "../journeys/schema";

/** A journey's configuration and analytics frozen at `createdAt`. */
export const Snapshot = z.object({
  id: z.string(),
  journeyId: z.string(),
  createdAt: z.date(),
  configuration: Journey,
  analytics: JourneyAnalytics,
});
export type Snapshot = z.infer<typeof Snapshot>;

/** Every snapshot of the journey, newest first. */
export const SnapshotList = z.object({ data: z.array(Snapshot) });
export type SnapshotList = z.infer<typeof SnapshotList>;
