import { type Queryable, queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import type { EventType } from "../analytics/schema";
import type { Device } from "./schema";

/** A validated event with its corrected time, ready to store. */
export interface StoredEvent {
  id: string;
  type: EventType;
  sessionId: string;
  occurredAt: Date;
  clientTime: Date;
  stepKey: string | null;
  /** The step's index when `stepKey` names a step of the journey. */
  stepIndex: number | null;
  field: string | null;
  device: Device | null;
}

const HOUR_MS = 3_600_000;

// Rows go to the database as one JSON parameter (jsonb_to_recordset), which both drivers pass
// the same way and which keeps a 500-event batch to one statement per table. Every statement
// touches its rows in key order, so concurrent batches lock them in the same order.
const byKey = <T>(entries: Iterable<[string, T]>) =>
  [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Inserts the events whose ids are new to the journey and folds exactly those into the
 * summaries. Runs inside the caller's transaction; answers how many events were new.
 */
export async function storeEvents(
  tx: Queryable,
  batch: { orgId: string; journeyId: string; receivedAt: Date; events: StoredEvent[] },
): Promise<number> {
  const { orgId, journeyId } = batch;
  const rows = byKey(batch.events.map((e) => [e.id, e] as [string, StoredEvent])).map(([, e]) => ({
    id: e.id,
    occurred_at: e.occurredAt.toISOString(),
    client_time: e.clientTime.toISOString(),
    type: e.type,
    session_id: e.sessionId,
    step_key: e.stepKey,
    field: e.field,
    device: e.device,
  }));
  const inserted = await queryRows<{ id: string }>(
    tx,
    sql`with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(
        id text, occurred_at timestamptz, client_time timestamptz, type text,
        session_id text, step_key text, field text, device text)
    ), fresh as (
      insert into event_ids (org_id, journey_id, id, occurred_at)
      select ${orgId}::text, ${journeyId}::text, id, occurred_at from input
      on conflict do nothing
      returning id
    )
    insert into events (org_id, journey_id, occurred_at, id, received_at, client_time, type, session_id, step_key, field, device)
    select ${orgId}::text, ${journeyId}::text, i.occurred_at, i.id, ${batch.receivedAt.toISOString()}::timestamptz,
      i.client_time, i.type, i.session_id, i.step_key, i.field, i.device
    from input i join fresh f on f.id = i.id
    returning id`,
  );
  if (inserted.length === 0) return 0;
  const freshIds = new Set(inserted.map((r) => r.id));
  const fresh = batch.events.filter((e) => freshIds.has(e.id));
  const summaries = foldSummaries(fresh);

  // The four summaries go out together, in this order, in one round trip: none needs an answer
  // from another (session steps follow their sessions on the same connection).
  await Promise.all([
    queryRows(
      tx,
      sql`insert into event_sessions as s (org_id, journey_id, session_id, first_start_at, first_event_at,
        last_event_at, device, device_at, device_event_id, furthest_step_index, first_success_at)
      select ${orgId}::text, ${journeyId}::text, x.session_id, x.first_start_at, x.first_event_at, x.last_event_at,
        x.device, x.device_at, x.device_event_id, x.furthest_step_index, x.first_success_at
      from jsonb_to_recordset(${JSON.stringify(summaries.sessions)}::jsonb) as x(
        session_id text, first_start_at timestamptz, first_event_at timestamptz, last_event_at timestamptz,
        device text, device_at timestamptz, device_event_id text, furthest_step_index integer,
        first_success_at timestamptz)
      on conflict (org_id, journey_id, session_id) do update set
        first_start_at = least(s.first_start_at, excluded.first_start_at),
        first_event_at = least(s.first_event_at, excluded.first_event_at),
        last_event_at = greatest(s.last_event_at, excluded.last_event_at),
        furthest_step_index = greatest(s.furthest_step_index, excluded.furthest_step_index),
        first_success_at = least(s.first_success_at, excluded.first_success_at),
        device = case when ${newDeviceWins} then excluded.device else s.device end,
        device_at = case when ${newDeviceWins} then excluded.device_at else s.device_at end,
        device_event_id = case when ${newDeviceWins} then excluded.device_event_id else s.device_event_id end`,
    ),
    summaries.sessionSteps.length
      ? queryRows(
          tx,
          sql`insert into event_session_steps (org_id, journey_id, session_id, step_index)
        select ${orgId}::text, ${journeyId}::text, x.session_id, x.step_index
        from jsonb_to_recordset(${JSON.stringify(summaries.sessionSteps)}::jsonb) as x(session_id text, step_index integer)
        on conflict do nothing`,
        )
      : undefined,
    queryRows(
      tx,
      sql`insert into event_hours as h (org_id, journey_id, hour, type, count)
      select ${orgId}::text, ${journeyId}::text, x.hour, x.type, x.count
      from jsonb_to_recordset(${JSON.stringify(summaries.hours)}::jsonb) as x(hour timestamptz, type text, count integer)
      on conflict (org_id, journey_id, hour, type) do update set count = h.count + excluded.count`,
    ),
    summaries.stepKeys.length
      ? queryRows(
          tx,
          sql`insert into event_step_keys as k (org_id, journey_id, step_key, last_seen_at, event_count)
        select ${orgId}::text, ${journeyId}::text, x.step_key, x.last_seen_at, x.event_count
        from jsonb_to_recordset(${JSON.stringify(summaries.stepKeys)}::jsonb) as x(
          step_key text, last_seen_at timestamptz, event_count integer)
        on conflict (org_id, journey_id, step_key) do update set
          last_seen_at = greatest(k.last_seen_at, excluded.last_seen_at),
          event_count = k.event_count + excluded.event_count`,
        )
      : undefined,
  ]);
  return inserted.length;
}

/** The earliest event with a device wins; at equal times the smaller event id (byte order). */
const newDeviceWins = sql.raw(`(excluded.device_at is not null and (s.device_at is null
  or excluded.device_at < s.device_at
  or (excluded.device_at = s.device_at and excluded.device_event_id collate "C" < s.device_event_id collate "C")))`);

interface SessionFold {
  firstStartAt: number | null;
  firstEventAt: number;
  lastEventAt: number;
  device: Device | null;
  deviceAt: number | null;
  deviceEventId: string | null;
  furthestStepIndex: number | null;
  firstSuccessAt: number | null;
}

const minOf = (a: number | null, b: number) => (a === null || b < a ? b : a);

/** The batch's contribution to each summary, folded the same way the upserts fold rows. */
export function foldSummaries(events: StoredEvent[]) {
  const sessions = new Map<string, SessionFold>();
  const sessionSteps = new Map<string, { session_id: string; step_index: number }>();
  const hours = new Map<string, { hour: string; type: string; count: number }>();
  const stepKeys = new Map<string, { lastSeen: number; count: number }>();

  for (const e of events) {
    const t = e.occurredAt.getTime();
    let s = sessions.get(e.sessionId);
    if (!s) {
      s = {
        firstStartAt: null,
        firstEventAt: t,
        lastEventAt: t,
        device: null,
        deviceAt: null,
        deviceEventId: null,
        furthestStepIndex: null,
        firstSuccessAt: null,
      };
      sessions.set(e.sessionId, s);
    }
    s.firstEventAt = Math.min(s.firstEventAt, t);
    s.lastEventAt = Math.max(s.lastEventAt, t);
    if (e.type === "session_start") s.firstStartAt = minOf(s.firstStartAt, t);
    if (e.type === "submit_success") s.firstSuccessAt = minOf(s.firstSuccessAt, t);
    if (
      e.device &&
      (s.deviceAt === null ||
        t < s.deviceAt ||
        (t === s.deviceAt && s.deviceEventId !== null && e.id < s.deviceEventId))
    ) {
      s.device = e.device;
      s.deviceAt = t;
      s.deviceEventId = e.id;
    }
    if (e.type === "step_view" && e.stepIndex !== null) {
      s.furthestStepIndex = Math.max(s.furthestStepIndex ?? e.stepIndex, e.stepIndex);
      sessionSteps.set(`${e.sessionId}\u0000${e.stepIndex}`, {
        session_id: e.sessionId,
        step_index: e.stepIndex,
      });
    }
    const hour = new Date(Math.floor(t / HOUR_MS) * HOUR_MS).toISOString();
    const bucket = hours.get(`${hour} ${e.type}`) ?? { hour, type: e.type, count: 0 };
    bucket.count++;
    hours.set(`${hour} ${e.type}`, bucket);
    if (e.stepKey !== null) {
      const k = stepKeys.get(e.stepKey) ?? { lastSeen: t, count: 0 };
      k.lastSeen = Math.max(k.lastSeen, t);
      k.count++;
      stepKeys.set(e.stepKey, k);
    }
  }

  return {
    sessions: byKey(sessions).map(([sessionId, s]) => ({
      session_id: sessionId,
      first_start_at: iso(s.firstStartAt),
      first_event_at: iso(s.firstEventAt),
      last_event_at: iso(s.lastEventAt),
      device: s.device,
      device_at: iso(s.deviceAt),
      device_event_id: s.deviceEventId,
      furthest_step_index: s.furthestStepIndex,
      first_success_at: iso(s.firstSuccessAt),
    })),
    sessionSteps: byKey(sessionSteps).map(([, row]) => row),
    hours: byKey(hours).map(([, row]) => row),
    stepKeys: byKey(stepKeys).map(([stepKey, k]) => ({
      step_key: stepKey,
      last_seen_at: iso(k.lastSeen),
      event_count: k.count,
    })),
  };
}
