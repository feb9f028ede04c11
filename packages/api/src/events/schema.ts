import { z } from "zod";
import { EventType } from "../analytics/schema";
import { text } from "../text";
import { isStorableTime, STORABLE_TIMES } from "../validation";

// The contract of POST /api/events and events.ingest, as docs/analytics.md restates it.

export const MAX_EVENTS_PER_BATCH = 500;
export const MAX_BATCH_BYTES = 512 * 1024;

export const Device = z.enum(["mobile", "tablet", "desktop"]);
export type Device = z.infer<typeof Device>;

const seconds = ":[0-5]\\d(?:\\.\\d+)?";
/** zod's `z.iso.datetime` pattern, with a 60th second: RFC 3339 allows one, for a leap second. */
const datetimePattern = z.regexes
  .datetime({ offset: true })
  .source.replace(seconds, ":(?:[0-5]\\d|60)(?:\\.\\d+)?");
if (!datetimePattern.includes("|60)"))
  throw new Error("zod's datetime pattern changed: its seconds were not found");

/**
 * Milliseconds since the epoch of a time `Instant` took. A leap second (`23:59:60` in UTC), which
 * JavaScript dates cannot hold, is read as the last millisecond of its minute, so it keeps its
 * place among the times around it; a 60th second of any other minute is no time (NaN).
 */
export function instantMs(value: string): number {
  // The pattern takes four-digit years only, so the seconds are at 17 and 18.
  if (value[17] !== "6") return Date.parse(value);
  const ms = Date.parse(`${value.slice(0, 17)}59.999${value.slice(19).replace(/^\.\d+/, "")}`);
  const utc = new Date(ms);
  return utc.getUTCHours() === 23 && utc.getUTCMinutes() === 59 ? ms : Number.NaN;
}

/**
 * An RFC 3339 time with its offset, within the times the service stores (`STORABLE_TIMES`).
 * The pattern ignores case: RFC 3339, which the OpenAPI document's `format: date-time` names,
 * allows `t` and `z` in lower case.
 */
const Instant = z
  .stringFormat("datetime", new RegExp(datetimePattern, "i"))
  // One reading of the time for both checks: this runs for every event of every batch.
  .superRefine((value, ctx) => {
    const ms = instantMs(value);
    if (Number.isNaN(ms))
      ctx.addIssue({
        code: "custom",
        message: "has a 60th second, which only a leap second has (23:59:60 in UTC)",
      });
    else if (!isStorableTime(ms))
      ctx.addIssue({ code: "custom", message: `must be ${STORABLE_TIMES.described}` });
  })
  .meta({
    format: "date-time",
    description: `An RFC 3339 time with seconds and its offset, \`Z\` or \`±hh:mm\` (2026-11-26T10:00:05.000Z, 2026-11-26T11:00:05+01:00); ${STORABLE_TIMES.described}. A leap second (23:59:60 in UTC) is read as 23:59:59.999.`,
  });

const StepKey = text().min(1).max(100);

const EventFields = z.object({
  id: z.guid({ error: (issue) => (issue.input === undefined ? "is required" : "must be a UUID") }),
  type: z.enum(EventType.options, {
    error: (issue) => (issue.input === undefined ? "is required" : undefined),
  }),
  sessionId: text().min(1).max(200),
  timestamp: Instant,
  stepKey: StepKey.nullish(),
  field: text().min(1).max(200).nullish(),
  device: Device.nullish(),
});

/** One event as a form sends it. Unknown fields are dropped, so no field value is ever stored. */
export const EventInput = EventFields.refine((event) => event.type !== "step_view" || event.stepKey, {
  path: ["stepKey"],
  error: "is required for step_view events",
})
  // The refinement, as JSON Schema says it, for the OpenAPI document.
  .meta({
    description:
      "One event. A `step_view` names its step (`stepKey`). Its time is `timestamp`, corrected by the batch's `sentAt` when given (receipt + (timestamp − sentAt)): a time more than 5 minutes after receipt counts as the receipt time, and one more than 365 days before it is rejected. An invalid event is rejected on its own, listed by index in the answer's `rejected`; the rest of the batch is stored.",
    if: { properties: { type: { const: "step_view" } }, required: ["type"] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then; this object is never awaited.
    then: { properties: { stepKey: { type: "string" } }, required: ["stepKey"] },
  });
export type EventInput = z.infer<typeof EventInput>;

/**
 * One event as callers type it: `EventInput` with its refinement as a type, so a `step_view`
 * without `stepKey` is a compile error rather than a rejection in the answer. Only its type is
 * used (`IngestInput`), inlined where the router's type is published.
 */
const TypedEvent = z.union([
  EventFields.extend({ type: z.literal("step_view"), stepKey: StepKey }),
  EventFields.extend({ type: EventType.exclude(["step_view"]) }),
]);
export type TypedEventInput = z.input<typeof TypedEvent>;

/**
 * A batch. Events are validated one by one inside the operation, so one bad event is reported
 * by its index instead of sinking the batch.
 */
export const IngestInput = z.object({
  journey: text().min(1).max(255),
  // null reads as absent, as it does for an event's optional fields.
  sentAt: Instant.nullish(),
  key: text().max(200).nullish().meta({
    description:
      "A publishable key (`ody_pk_…`), for browsers that cannot set headers: the batch then needs no Authorization header. Only a publishable key may be sent here; any other is refused (401).",
  }),
  // Typed as events for callers; checked one by one by the operation (z.custom checks nothing).
  events: z.array(z.custom<z.input<typeof TypedEvent>>()),
});
export type IngestInput = z.infer<typeof IngestInput>;

export const RejectedEvent = z.object({ index: z.int(), error: z.string() });

export const IngestResult = z.object({
  accepted: z.int().meta({
    description: "Valid events, duplicates included: `accepted + rejected.length` is the batch size.",
  }),
  duplicates: z.int().meta({
    description: "Accepted events not stored again: their id was already stored, or repeated in the batch.",
  }),
  rejected: z.array(RejectedEvent),
  unknownStepKeys: z.array(z.string()).meta({
    description:
      "Step keys of this batch's events that are not steps of the journey (the events are still stored); an event repeating an earlier id of the batch adds none.",
  }),
});
export type IngestResult = z.infer<typeof IngestResult>;
