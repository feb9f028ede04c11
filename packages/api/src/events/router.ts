import { keyFromAuthorization, keyPrefixes, verifyKey } from "../auth/keys";
import { ForbiddenError, UnauthorizedError } from "../errors";
import { publicProcedure, router } from "../trpc";
import { ingestEvents } from "./ingest";
import { IngestInput, IngestResult } from "./schema";

/**
 * Event writers authenticate with a secret key in `Authorization: Bearer`, or, from browsers
 * (sendBeacon cannot set headers), with a publishable key as `"key"` in the body.
 */
const eventWriterProcedure = publicProcedure
  .meta({ scope: "events:write" })
  .use(async ({ ctx, getRawInput, next }) => {
    const raw = (await getRawInput()) as { key?: unknown } | undefined;
    const bodyKey =
      typeof raw === "object" && raw !== null && typeof raw.key === "string" ? raw.key : undefined;
    let presented: string;
    if (ctx.authorization !== undefined && ctx.authorization.trim() !== "")
      presented = keyFromAuthorization(ctx.authorization);
    else if (bodyKey !== undefined) {
      if (!bodyKey.startsWith(keyPrefixes.publishable))
        throw new UnauthorizedError(
          `Only publishable keys (${keyPrefixes.publishable}…) may be sent in the body; send secret keys as Authorization: Bearer <key>`,
        );
      presented = bodyKey;
    } else
      throw new UnauthorizedError(
        'Missing API key: send Authorization: Bearer <key>, or a publishable key as "key" in the body',
      );
    const verified = await verifyKey(ctx.db, presented);
    if (!verified.key.scopes.includes("events:write"))
      throw new ForbiddenError("API key does not have required scope: events:write");
    return next({ ctx: { ...ctx, orgId: verified.orgId, key: verified.key } });
  });

export const eventsRouter = router({
  ingest: eventWriterProcedure
    .input(IngestInput)
    .output(IngestResult)
    .mutation(({ ctx, input }) => ingestEvents({ ctx, input })),
});
