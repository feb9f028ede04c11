import { journeyAnalytics } from "../analytics/cache";
import { keyFromAuthorization } from "../auth/keys";
import { requireScope } from "../auth/scopes";
import { journeyNotFound } from "../errors";
import { runIdempotent } from "../idempotency/run";
import { snapshotsRouter } from "../snapshots/router";
import { acceptedRawText, publicProcedure, router, scopedProcedure } from "../trpc";
import { verifyKeyForRetrieve } from "./lookup";
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

/**
 * Retrieve checks the key and reads the journey it names in one query (`journeys/lookup.ts`),
 * with the same 401 and 403 answers as every scoped procedure. A slug the contract refuses is
 * not looked up: the input check answers it once the key has passed.
 */
const retrieveProcedure = publicProcedure
  .meta({ scope: "journeys:read" })
  .use(async ({ ctx, getRawInput, next }) => {
    const slug = acceptedRawText(await getRawInput(), "slug", SlugRef.shape.slug);
    const verified = await verifyKeyForRetrieve(ctx.db, keyFromAuthorization(ctx.authorization), slug);
    ctx.keyVerified?.();
    requireScope(verified.key, "journeys:read");
    return next({ ctx: { ...ctx, orgId: verified.orgId, key: verified.key, retrieved: verified.retrieved } });
  });

const notFound = (slug: string): never => {
  throw journeyNotFound(slug);
};

export const journeysRouter = router({
  create: write
    .input(CreateJourneyInput)
    .mutation(({ ctx, input }) =>
      runIdempotent(ctx, "journeys.create", input, (db) => createJourney({ ctx: { ...ctx, db }, input })),
    ),
  get: retrieveProcedure.input(SlugRef).query(async ({ ctx, input }): Promise<JourneyDetail> => {
    const { journey, analyticsVersion: version } =
      ctx.retrieved.slug === input.slug
        ? (ctx.retrieved.found ?? notFound(input.slug))
        : await findVersionedJourney({ ctx, input });
    return { ...journey, ...(await journeyAnalytics({ ctx, journey, version })) };
  }),
  update: write.input(UpdateJourneyInput).mutation(({ ctx, input }) => updateJourney({ ctx, input })),
  list: read.input(ListJourneysInput).query(({ ctx, input }) => listJourneys({ ctx, input })),
  delete: write.input(SlugRef).mutation(({ ctx, input }) => deleteJourney({ ctx, input })),
  snapshots: snapshotsRouter,
});
