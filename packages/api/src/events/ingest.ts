import type { OrgContext } from "../context";
import { ForbiddenError, PayloadTooLargeError } from "../errors";
import { describeIssue } from "../validation";
import { deviceFromHeaders } from "./device";
import { findJourneyForEvents, type JourneyLookup } from "./lookup";
import { EventInput, type IngestInput, type IngestResult, MAX_EVENTS_PER_BATCH } from "./schema";
import { EventColumns, storeEvents } from "./store";

/** What ingestion needs beyond the organization: the request's time and browser headers. */
export interface EventWriterContext extends OrgContext {
  receivedAt?: Date;
  origin?: string | undefined;
  userAgent?: string | undefined;
  uaMobile?: string | undefined;
  /** The journey as read together with the caller's key, when it was. */
  journeyLookup?: JourneyLookup;
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
  const journey = await findJourneyForEvents(ctx, input.journey, ctx.journeyLookup);
  if (ctx.origin !== undefined && !originAllowed(ctx.origin, journey.allowedOrigins))
    throw new ForbiddenError(
      `Origin ${ctx.origin} is not allowed to send events for journey "${input.journey}"`,
    );

  const receivedAt = ctx.receivedAt ?? new Date();
  const skewMs = input.sentAt === undefined ? 0 : receivedAt.getTime() - Date.parse(input.sentAt);
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
      rejected.push({
        index,
        error: parsed.error.issues[0] ? describeIssue(parsed.error.issues[0]) : "is invalid",
      });
      return;
    }
    const event = parsed.data;
    const clientMs = Date.parse(event.timestamp);
    let occurredMs = clientMs + skewMs;
    if (occurredMs > receivedMs + FUTURE_LIMIT_MS) occurredMs = receivedMs;
    if (occurredMs < receivedMs - PAST_LIMIT_MS) {
      rejected.push({ index, error: "timestamp is more than 365 days before the batch was received" });
      return;
    }
    const stepIndex = event.stepKey ? journey.stepIndexByKey.get(event.stepKey) : undefined;
    if (event.stepKey && stepIndex === undefined) unknownStepKeys.add(event.stepKey);
    const id = event.id.toLowerCase();
    if (seen.has(id)) {
      duplicates++;
      return;
    }
    seen.add(id);
    const clientTime = new Date(clientMs).toISOString();
    fresh.push(
      id,
      event.type,
      event.sessionId,
      occurredMs === clientMs ? clientTime : new Date(occurredMs).toISOString(),
      clientTime,
      event.stepKey ?? null,
      stepIndex ?? null,
      event.field ?? null,
      event.device ?? requestDevice,
    );
  });

  // One statement: the events and every summary commit together, before the answer is sent.
  const stored = fresh.length
    ? await storeEvents(ctx.db, {
        orgId: ctx.orgId,
        journeyId: journey.id,
        journeySlug: input.journey,
        receivedAt,
        events: fresh,
      })
    : 0;
  // Every valid event is accepted; those whose id the journey already had are also duplicates.
  return {
    accepted: fresh.length + duplicates,
    duplicates: duplicates + (fresh.length - stored),
    rejected,
    unknownStepKeys: [...unknownStepKeys],
  };
}

/** An empty list allows every origin; an entry may end in a slash where the header does not. */
function originAllowed(origin: string, allowed: string[]): boolean {
  if (allowed.length === 0) return true;
  const normal = normalOrigin(origin);
  return normal !== null && allowed.some((entry) => normalOrigin(entry) === normal);
}

function normalOrigin(value: string): string | null {
  try {
    return new URL(value).origin;
  } catch {
    return null;
  }
}
