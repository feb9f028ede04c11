import { z } from "zod";
import { JourneyAnalytics } from "../analytics/schema";
import { Journey, SlugRef } from "../journeys/schema";
import { PageQuery } from "../paging";

/** A journey's configuration and analytics frozen at `createdAt`. */
export const Snapshot = z.object({
  id: z.string(),
  journeyId: z.string(),
  createdAt: z.date(),
  configuration: Journey,
  analytics: JourneyAnalytics,
});
export type Snapshot = z.infer<typeof Snapshot>;

/** Page size and position (`paging.ts`, as every list pages). */
export const ListSnapshotsQuery = PageQuery;
/** The journey, and which page of its snapshots. */
export const ListSnapshotsInput = SlugRef.extend(PageQuery.shape);

/** A page of the journey's snapshots, newest first, and the cursor of the next page (null on the last). */
export const SnapshotList = z.object({
  data: z.array(Snapshot),
  nextCursor: z.string().nullable(),
});
export type SnapshotList = z.infer<typeof SnapshotList>;
