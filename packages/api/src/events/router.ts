import { keyFromAuthorization, keyPrefixes } from "../auth/keys";
import { requireScope } from "../auth/scopes";
import { UnauthorizedError, ValidationError } from "../errors";
import { acceptedRawText, publicProcedure, router } from "../trpc";
import { formatValidationError } from "../validation";
import { ingestEvents } from "./ingest";
import { verifyKeyForJourney } from "./lookup";
import { IngestInput, IngestResult } from "./schema";

/** The batch's `key` alone, checked before the rest of the input when no header is sent. */
const bodyKeyInput = IngestInput.pick({ key: true });

/** A batch with neither header nor body key: the sender is told of both ways to send one. */
function missingEventKey(): never {
  throw new UnauthorizedError(
    `Missing API key: send it as Authorization: Bearer <key>, or a publishable key (${keyPrefixes.publishable}…) as "key" in the body`,
  );
}

/**
 * Event writers authenticate with a secret key in `Authorization: Bearer`, or, from browsers
 * (sendBeacon cannot set headers), with a publishable key as `"key"` in the body.
 */
const eventWriterProcedure = publicProcedure
  .meta({ scope: "events:write" })
  .use(async ({ ctx, getRawInput, next }) => {
    const raw = (await getRawInput()) as { key?: unknown; journey?: unknown } | undefined;
    const rawKey = typeof raw === "object" && raw !== null ? raw.key : undefined;
    const bodyKey = typeof rawKey === "string" ? rawKey : undefined;
    const hasHeader = ctx.authorization !== undefined && ctx.authorization.trim() !== "";
    // A body key outside the contract's bounds (not text, longer than the document allows, holding
    // NUL) cannot be judged as a key: it is invalid input, named as such (with a header, the
    // header's key is judged first and the input check says the same).
    if (!hasHeader && rawKey !== undefined && rawKey !== null) {
      const checked = bodyKeyInput.safeParse({ key: rawKey });
      if (!checked.success) throw new ValidationError(formatValidationError(checked.error, "event"));
    }
    // A secret key sent in a body is refused even beside a header: bodies end up in logs and
    // browser caches where headers do not, so it must be rotated, not silently used. Any other
    // body key is looked up as it is, and one that is no key is answered as an unknown key.
    if (bodyKey?.startsWith(keyPrefixes.secret))
      throw new UnauthorizedError(
        `Only publishable keys (${keyPrefixes.publishable}…) may be sent in the body; send secret keys as Authorization: Bearer <key>`,
      );
    // A header decides, with the same 401 messages as every other route; without one, the body's
    // key, and a request with neither is told that a key may come in the body here.
    const presented = hasHeader ? keyFromAuthorization(ctx.authorization) : (bodyKey ?? missingEventKey());
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
