import { journeyAnalytics } from "../analytics/cache";
import { runIdempotent } from "../idempotency/run";
import { snapshotsRouter } from "../snapshots/router";
import { router, scopedProcedure } from "../trpc";
import {
  createJourney,
  deleteJourney,
  findVersionedJourney,
  listJourneys,
  updateJourney,
} from "./operations";
import {
  CreateJourneyInput,
  type JourneyDetail,
  ListJourneysInput,
  SlugRef,
  UpdateJourneyInput,
} from "./schema";

// Outputs are checked against the contract's types when this compiles (the operations declare
// them), not parsed again on every call, which would cost CPU on each answer and add no guarantee.
const read = scopedProcedure("journeys:read");
const write = scopedProcedure("journeys:write");

export const journeysRouter = router({
  create: write
    .input(CreateJourneyInput)
    .mutation(({ ctx, input }) =>
      runIdempotent(ctx, "journeys.create", input, (db) => createJourney({ ctx: { ...ctx, db }, input })),
    ),
  get: read.input(SlugRef).query(async ({ ctx, input }): Promise<JourneyDetail> => {
    const { journey, analyticsVersion: version } = await findVersionedJourney({ ctx, input });
    return { ...journey, ...(await journeyAnalytics({ ctx, journey, version })) };
  }),
  update: write.input(UpdateJourneyInput).mutation(({ ctx, input }) => updateJourney({ ctx, input })),
  list: read.input(ListJourneysInput).query(({ ctx, input }) => listJourneys({ ctx, input })),
  delete: write.input(SlugRef).mutation(({ ctx, input }) => deleteJourney({ ctx, input })),
  snapshots: snapshotsRouter,
});
