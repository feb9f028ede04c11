import type { OrgContext } from "../context";
import { ForbiddenError, PayloadTooLargeError } from "../errors";
import { webOrigin } from "../origin";
import { describeIssue, isStorableTime, primaryIssue, STORABLE_TIMES } from "../validation";
import { deviceFromHeaders } from "./device";
import { findJourneyForEvents, type JourneyLookup } from "./lookup";
import { EventInput, type IngestInput, type IngestResult, instantMs, MAX_EVENTS_PER_BATCH } from "./schema";
import { EventColumns, storeEvents } from "./store";

/** What ingestion needs beyond the organization: the request's time and browser headers. */
export interface EventWriterContext extends OrgContext {
  receivedAt?: Date;
  origin?: string | undefined;
  userAgent?: string | undefined;
  uaMobile?: string | undefined;
  /** The journey as read together with the caller's key, when it was. */
  journeyLookup?: JourneyLookup;
  /**
   * Reads the key and the journey afresh, with the same checks as the first time: used when the
   * batch's statement found a remembered lookup out of date (see `unconfirmedKeyHash`).
   */
  readJourneyAgain?: () => Promise<JourneyLookup>;
}

const FUTURE_LIMIT_MS = 5 * 60_000;
const PAST_LIMIT_MS = 365 * 24 * 3_600_000;

/**
 * Stores a batch of events and folds the new ones into the summaries, atomically, and answers
 * only once that has committed. Duplicates (same journey and id, in earlier batches or
 * earlier in this one) are accepted and never counted twice.
 */
export async function ingestEvents({
  ctx,
  input,
}: {
  ctx: EventWriterContext;
  input: IngestInput;
}): Promise<IngestResult> {
  if (input.events.length > MAX_EVENTS_PER_BATCH)
    throw new PayloadTooLargeError(
      `A batch may carry at most ${MAX_EVENTS_PER_BATCH} events; this one has ${input.events.length}`,
    );
  const result = await ingestWith(ctx, input);
  if (result !== OUT_OF_DATE) return result;
  // The remembered key or journey has changed: read them again (which answers a revoked key, a
  // deleted journey, … with their errors) and store with what is current.
  const journeyLookup = ctx.readJourneyAgain ? await ctx.readJourneyAgain() : undefined;
  const again = await ingestWith({ ...ctx, journeyLookup }, input);
  if (again === OUT_OF_DATE) throw new Error("A freshly read journey lookup cannot be out of date");
  return again;
}

/** What `ingestWith` answers when the remembered lookup it was given no longer holds. */
const OUT_OF_DATE = Symbol("out of date");

async function ingestWith(
  ctx: EventWriterContext,
  input: IngestInput,
): Promise<IngestResult | typeof OUT_OF_DATE> {
  const lookup = ctx.journeyLookup;
  // A key taken from the remembered lookups is confirmed by the statement whichever journey is read.
  const unconfirmedKeyHash = lookup?.unconfirmedKeyHash;
  const journey = await findJourneyForEvents(ctx, input.journey, lookup);
  if (ctx.origin !== undefined && !originAllowed(ctx.origin, journey.allowedOrigins)) {
    // A remembered list may be out of date: only a list read now refuses.
    if (unconfirmedKeyHash !== undefined) return OUT_OF_DATE;
    throw new ForbiddenError(
      `Origin ${ctx.origin} is not allowed to send events for journey "${input.journey}"`,
    );
  }

  const receivedAt = ctx.receivedAt ?? new Date();
  const skewMs = input.sentAt == null ? 0 : receivedAt.getTime() - instantMs(input.sentAt);
  const requestDevice = deviceFromHeaders(ctx);

  const rejected: IngestResult["rejected"] = [];
  const unknownStepKeys = new Set<string>();
  const seen = new Set<string>();
  const fresh = new EventColumns();
  let duplicates = 0;
  const receivedMs = receivedAt.getTime();

  input.events.forEach((raw, index) => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      rejected.push({ index, error: "event must be an object" });
      return;
    }
    const parsed = EventInput.safeParse(raw);
    if (!parsed.success) {
      const issue = primaryIssue(parsed.error.issues);
      rejected.push({ index, error: issue ? describeIssue(issue) : "is invalid" });
      return;
    }
    const event = parsed.data;
    // The schema holds the client's time within the storable times; the correction may move it out.
    const clientMs = instantMs(event.timestamp);
    let occurredMs = clientMs + skewMs;
    if (occurredMs > receivedMs + FUTURE_LIMIT_MS) occurredMs = receivedMs;
    if (occurredMs < receivedMs - PAST_LIMIT_MS) {
      rejected.push({ index, error: "timestamp is more than 365 days before the batch was received" });
      return;
    }
    if (!isStorableTime(occurredMs)) {
      rejected.push({
        index,
        error: `timestamp, corrected for clock skew, is not ${STORABLE_TIMES.described}`,
      });
      return;
    }
    const id = event.id.toLowerCase();
    if (seen.has(id)) {
      duplicates++; // the batch's first event with this id is the one stored
      return;
    }
    seen.add(id);
    const stepIndex = event.stepKey ? journey.stepIndexByKey.get(event.stepKey) : undefined;
    if (event.stepKey && stepIndex === undefined) unknownStepKeys.add(event.stepKey);
    fresh.push(
      id,
      event.type,
      event.sessionId,
      occurredMs,
      clientMs,
      event.stepKey ?? null,
      stepIndex ?? null,
      event.field ?? null,
      event.device ?? requestDevice,
    );
  });

  // One statement: the events and every summary commit together, before the answer is sent.
  // With a remembered lookup it also confirms the key and the journey, even for a batch with
  // nothing to store, so that a revoked key is answered as such.
  let stored = 0;
  if (fresh.length > 0 || unconfirmedKeyHash !== undefined) {
    const outcome = await storeEvents(ctx.db, {
      orgId: ctx.orgId,
      journeyId: journey.id,
      journeySlug: input.journey,
      receivedAt,
      events: fresh,
      confirm:
        unconfirmedKeyHash === undefined
          ? undefined
          : { keyHash: unconfirmedKeyHash, allowedOrigins: journey.allowedOrigins },
    });
    if (outcome === "unconfirmed") return OUT_OF_DATE;
    stored = outcome;
  }
  // Every valid event is accepted; those whose id the journey already had are also duplicates.
  return {
    accepted: fresh.length + duplicates,
    duplicates: duplicates + (fresh.length - stored),
    rejected,
    unknownStepKeys: [...unknownStepKeys],
  };
}

/**
 * An empty list allows every origin. Entries are compared in their normal form too: rows stored
 * before the list was normalized may end in a slash, or differ in case, where the header does not.
 */
function originAllowed(origin: string, allowed: string[]): boolean {
  if (allowed.length === 0) return true;
  const normal = webOrigin(origin);
  return normal !== null && allowed.some((entry) => webOrigin(entry) === normal);
}
