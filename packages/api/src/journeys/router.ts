import { loadJourneyAnalytics } from "../analytics/load";
import { runIdempotent } from "../idempotency/run";
import { snapshotsRouter } from "../snapshots/router";
import { router, scopedProcedure } from "../trpc";
import { createJourney, deleteJourney, findJourney, listJourneys, updateJourney } from "./operations";
import {
  CreateJourneyInput,
  DeletedJourney,
  Journey,
  JourneyDetail,
  JourneyList,
  ListJourneysInput,
  SlugRef,
  UpdateJourneyInput,
} from "./schema";

const read = scopedProcedure("journeys:read");
const write = scopedProcedure("journeys:write");

export const journeysRouter = router({
  create: write
    .input(CreateJourneyInput)
    .output(Journey)
    .mutation(({ ctx, input }) =>
      runIdempotent(ctx, "journeys.create", input, (db) => createJourney({ ctx: { ...ctx, db }, input })),
    ),
  get: read
    .input(SlugRef)
    .output(JourneyDetail)
    .query(async ({ ctx, input }) => {
      const journey = await findJourney({ ctx, input });
      return { ...journey, ...(await loadJourneyAnalytics({ ctx, journey })) };
    }),
  update: write
    .input(UpdateJourneyInput)
    .output(Journey)
    .mutation(({ ctx, input }) => updateJourney({ ctx, input })),
  list: read
    .input(ListJourneysInput)
    .output(JourneyList)
    .query(({ ctx, input }) => listJourneys({ ctx, input })),
  delete: write
    .input(SlugRef)
    .output(DeletedJourney)
    .mutation(({ ctx, input }) => deleteJourney({ ctx, input })),
  snapshots: snapshotsRouter,
});
