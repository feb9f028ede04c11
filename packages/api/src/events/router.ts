import { keyFromAuthorization, keyPrefixes } from "../auth/keys";
import { requireScope } from "../auth/scopes";
import { UnauthorizedError } from "../errors";
import { acceptedRawText, publicProcedure, router } from "../trpc";
import { ingestEvents } from "./ingest";
import { verifyKeyForJourney } from "./lookup";
import { IngestInput, IngestResult } from "./schema";

/**
 * Event writers authenticate with a secret key in `Authorization: Bearer`, or, from browsers
 * (sendBeacon cannot set headers), with a publishable key as `"key"` in the body.
 */
const eventWriterProcedure = publicProcedure
  .meta({ scope: "events:write" })
  .use(async ({ ctx, getRawInput, next }) => {
    const raw = (await getRawInput()) as { key?: unknown; journey?: unknown } | undefined;
    const bodyKey =
      typeof raw === "object" && raw !== null && typeof raw.key === "string" ? raw.key : undefined;
    const hasHeader = ctx.authorization !== undefined && ctx.authorization.trim() !== "";
    // A secret key sent in a body is refused even beside a header: bodies end up in logs and
    // browser caches where headers do not, so it must be rotated, not silently used.
    const refusedInBody =
      bodyKey !== undefined &&
      (hasHeader ? bodyKey.startsWith(keyPrefixes.secret) : !bodyKey.startsWith(keyPrefixes.publishable));
    if (refusedInBody)
      throw new UnauthorizedError(
        `Only publishable keys (${keyPrefixes.publishable}…) may be sent in the body; send secret keys as Authorization: Bearer <key>`,
      );
    // Without a body key the header decides, with the same 401 messages as every other route.
    const presented = !hasHeader && bodyKey !== undefined ? bodyKey : keyFromAuthorization(ctx.authorization);
    // The journey the batch names is read with the key (one query), within the key's organization;
    // the operation uses it only once the key has passed every check here.
    const slug = acceptedRawText(raw, "journey", IngestInput.shape.journey);
    const verified = await verifyKeyForJourney(ctx.db, presented, slug);
    ctx.keyVerified?.();
    requireScope(verified.key, "events:write");
    const readJourneyAgain = async () => {
      const again = await verifyKeyForJourney(ctx.db, presented, slug, { recent: false });
      requireScope(again.key, "events:write");
      return again.journey;
    };
    return next({
      ctx: {
        ...ctx,
        orgId: verified.orgId,
        key: verified.key,
        journeyLookup: verified.journey,
        readJourneyAgain,
      },
    });
  });

export const eventsRouter = router({
  ingest: eventWriterProcedure
    .input(IngestInput)
    .output(IngestResult)
    .mutation(({ ctx, input }) => ingestEvents({ ctx, input })),
});
