import { SlugRef } from "../journeys/schema";
import { router, scopedProcedure } from "../trpc";
import { createSnapshot, listSnapshots } from "./operations";
import { ListSnapshotsInput, Snapshot, SnapshotList } from "./schema";

export const snapshotsRouter = router({
  create: scopedProcedure("journeys:write")
    .input(SlugRef)
    .output(Snapshot)
    .mutation(({ ctx, input }) => createSnapshot({ ctx, input })),
  list: scopedProcedure("journeys:read")
    .input(ListSnapshotsInput)
    .output(SnapshotList)
    .query(({ ctx, input }) => listSnapshots({ ctx, input })),
});
