import { journeySteps, journeys } from "@odyssey/db";
import { and, eq } from "drizzle-orm";
import type { OrgContext } from "../context";
import { ForbiddenError, journeyNotFound, PayloadTooLargeError } from "../errors";
import { describeIssue } from "../validation";
import { deviceFromHeaders } from "./device";
import { EventInput, type IngestInput, type IngestResult, MAX_EVENTS_PER_BATCH } from "./schema";
import { type StoredEvent, storeEvents } from "./store";

/** What ingestion needs beyond the organization: the request's time and browser headers. */
export interface EventWriterContext extends OrgContext {
  receivedAt?: Date;
  origin?: string | undefined;
  userAgent?: string | undefined;
  uaMobile?: string | undefined;
}

const FUTURE_LIMIT_MS = 5 * 60_000;
const PAST_LIMIT_MS = 365 * 24 * 3_600_000;

/**
 * Stores a batch of events and folds the new ones into the summaries, all in one transaction,
 * and answers only once it has committed. Duplicates (same journey and id, in earlier batches or
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
  const journey = await findJourneyForEvents(ctx, input.journey);
  if (
    ctx.origin !== undefined &&
    journey.allowedOrigins.length > 0 &&
    !journey.allowedOrigins.includes(ctx.origin)
  )
    throw new ForbiddenError(
      `Origin ${ctx.origin} is not allowed to send events for journey "${input.journey}"`,
    );

  const receivedAt = ctx.receivedAt ?? new Date();
  const skewMs = input.sentAt === undefined ? 0 : receivedAt.getTime() - Date.parse(input.sentAt);
  const requestDevice = deviceFromHeaders(ctx);

  const rejected: IngestResult["rejected"] = [];
  const unknownStepKeys = new Set<string>();
  const seen = new Set<string>();
  const fresh: StoredEvent[] = [];
  let duplicates = 0;

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
    let occurredAt = Date.parse(event.timestamp) + skewMs;
    if (occurredAt > receivedAt.getTime() + FUTURE_LIMIT_MS) occurredAt = receivedAt.getTime();
    if (occurredAt < receivedAt.getTime() - PAST_LIMIT_MS) {
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
    fresh.push({
      id,
      type: event.type,
      sessionId: event.sessionId,
      occurredAt: new Date(occurredAt),
      clientTime: new Date(Date.parse(event.timestamp)),
      stepKey: event.stepKey ?? null,
      stepIndex: stepIndex ?? null,
      field: event.field ?? null,
      device: event.device ?? requestDevice,
    });
  });

  const stored = fresh.length
    ? await ctx.db.transaction((tx) =>
        storeEvents(tx, { orgId: ctx.orgId, journeyId: journey.id, receivedAt, events: fresh }),
      )
    : 0;
  // Every valid event is accepted; those whose id the journey already had are also duplicates.
  return {
    accepted: fresh.length + duplicates,
    duplicates: duplicates + (fresh.length - stored),
    rejected,
    unknownStepKeys: [...unknownStepKeys],
  };
}

async function findJourneyForEvents(ctx: OrgContext, slug: string) {
  const rows = await ctx.db
    .select({
      id: journeys.id,
      allowedOrigins: journeys.allowedOrigins,
      stepKey: journeySteps.stepKey,
      index: journeySteps.index,
    })
    .from(journeys)
    .leftJoin(
      journeySteps,
      and(eq(journeySteps.orgId, journeys.orgId), eq(journeySteps.journeyId, journeys.id)),
    )
    .where(and(eq(journeys.orgId, ctx.orgId), eq(journeys.slug, slug)));
  const first = rows[0];
  if (!first) throw journeyNotFound(slug);
  const stepIndexByKey = new Map<string, number>();
  for (const row of rows)
    if (row.stepKey !== null && row.index !== null) stepIndexByKey.set(row.stepKey, row.index);
  return { id: first.id, allowedOrigins: first.allowedOrigins, stepIndexByKey };
}
