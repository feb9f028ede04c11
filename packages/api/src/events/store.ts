import { eventIds, events, pgErrorCode, type Queryable, queryRows, SUMMARY_SHARDS } from "@odyssey/db";
import { and, eq, sql } from "drizzle-orm";
import type { EventType } from "../analytics/schema";
import { journeyNotFound } from "../errors";
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

/**
 * Inserts the events whose ids are new to the journey and folds exactly those into every
 * summary, in ONE statement: atomic without an explicit transaction, and one round trip.
 *
 * The rows arrive as one JSON parameter (jsonb_to_recordset), which both drivers pass the same
 * way. `fresh` holds the ids that `event_ids` took (a concurrent request carrying the same id
 * waits on that index entry, then skips it), and only those events are inserted and folded.
 * Every fold is order-free (min, max, sum, set union, earliest device with ties to the smaller
 * id in byte order), so arrival order never changes a summary. Each insert writes its rows in key
 * order, so concurrent batches lock rows in the same order and cannot deadlock. A batch that
 * stored anything also moves the journey's analytics version on (analytics/cache.ts).
 */
export async function storeEvents(
  db: Queryable,
  batch: { orgId: string; journeyId: string; journeySlug: string; receivedAt: Date; events: StoredEvent[] },
): Promise<number> {
  const { orgId, journeyId } = batch;
  const rows = batch.events.map((e) => ({
    id: e.id,
    occurred_at: e.occurredAt.toISOString(),
    client_time: e.clientTime.toISOString(),
    hour: new Date(Math.floor(e.occurredAt.getTime() / HOUR_MS) * HOUR_MS).toISOString(),
    type: e.type,
    session_id: e.sessionId,
    step_key: e.stepKey,
    step_index: e.stepIndex,
    field: e.field,
    device: e.device,
  }));
  // Live traffic's hot summary rows (this hour, the step keys) are spread over shards.
  const shard = sql`${Math.floor(Math.random() * SUMMARY_SHARDS)}::smallint`;
  const org = sql`${orgId}::text`;
  const journey = sql`${journeyId}::text`;
  const [result] = await queryRows<{ stored: number }>(
    db,
    sql`with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(
        id text, occurred_at timestamptz, client_time timestamptz, hour timestamptz, type text,
        session_id text, step_key text, step_index integer, field text, device text)
    ), fresh as (
      insert into event_ids (org_id, journey_id, id, occurred_at)
      select ${org}, ${journey}, id, occurred_at from input order by id
      on conflict do nothing
      returning id
    ), new_events as (
      select i.* from input i join fresh f on f.id = i.id
    ), stored as (
      insert into events (org_id, journey_id, occurred_at, id, received_at, client_time, type, session_id,
        step_key, field, device)
      select ${org}, ${journey}, occurred_at, id, ${batch.receivedAt.toISOString()}::timestamptz, client_time, type,
        session_id, step_key, field, device
      from new_events
      returning 1
    ), sessions as (
      insert into event_sessions as s (org_id, journey_id, session_id, first_start_at, first_event_at,
        last_event_at, device, device_at, device_event_id, furthest_step_index, viewed_step_indexes,
        first_success_at)
      select ${org}, ${journey}, session_id,
        min(occurred_at) filter (where type = 'session_start'),
        min(occurred_at),
        max(occurred_at),
        (array_agg(device order by occurred_at, id collate "C") filter (where device is not null))[1],
        min(occurred_at) filter (where device is not null),
        (array_agg(id order by occurred_at, id collate "C") filter (where device is not null))[1],
        max(step_index) filter (where type = 'step_view'),
        coalesce(array_agg(distinct step_index order by step_index)
          filter (where type = 'step_view' and step_index is not null), '{}'),
        min(occurred_at) filter (where type = 'submit_success')
      from new_events
      group by session_id
      order by session_id
      on conflict (org_id, journey_id, session_id) do update set
        first_start_at = least(s.first_start_at, excluded.first_start_at),
        first_event_at = least(s.first_event_at, excluded.first_event_at),
        last_event_at = greatest(s.last_event_at, excluded.last_event_at),
        furthest_step_index = greatest(s.furthest_step_index, excluded.furthest_step_index),
        viewed_step_indexes = array(
          select distinct x from unnest(s.viewed_step_indexes || excluded.viewed_step_indexes) as x order by x),
        first_success_at = least(s.first_success_at, excluded.first_success_at),
        device = case when ${newDeviceWins} then excluded.device else s.device end,
        device_at = case when ${newDeviceWins} then excluded.device_at else s.device_at end,
        device_event_id = case when ${newDeviceWins} then excluded.device_event_id else s.device_event_id end
      returning 1
    ), hours as (
      insert into event_hours as h (org_id, journey_id, hour, type, shard, count)
      select ${org}, ${journey}, hour, type, ${shard}, count(*)
      from new_events
      group by hour, type
      order by hour, type
      on conflict (org_id, journey_id, hour, type, shard) do update set count = h.count + excluded.count
      returning 1
    ), step_keys as (
      insert into event_step_keys as k (org_id, journey_id, step_key, shard, last_seen_at, event_count)
      select ${org}, ${journey}, step_key, ${shard}, max(occurred_at), count(*)
      from new_events
      where step_key is not null
      group by step_key
      order by step_key
      on conflict (org_id, journey_id, step_key, shard) do update set
        last_seen_at = greatest(k.last_seen_at, excluded.last_seen_at),
        event_count = k.event_count + excluded.event_count
      returning 1
    ), version as (
      insert into analytics_versions as v (org_id, journey_id, shard, version)
      select ${org}, ${journey}, ${shard}, 1
      where exists (select 1 from fresh)
      on conflict (org_id, journey_id, shard) do update set version = v.version + 1
      returning 1
    )
    select (select count(*) from stored)::int as stored`,
  ).catch((error: unknown) => {
    // The journey was deleted since it was looked up: the summaries' foreign key refused the batch.
    if (pgErrorCode(error).code === "23503") throw journeyNotFound(batch.journeySlug);
    throw error;
  });
  return result?.stored ?? 0;
}

/** Deletes a journey's events and their ids (the tables without a foreign key to journeys). */
export async function deleteJourneyEvents(db: Queryable, orgId: string, journeyId: string): Promise<void> {
  await db.delete(eventIds).where(and(eq(eventIds.orgId, orgId), eq(eventIds.journeyId, journeyId)));
  await db.delete(events).where(and(eq(events.orgId, orgId), eq(events.journeyId, journeyId)));
}

/** The earliest event with a device wins; at equal times the smaller event id (byte order). */
const newDeviceWins = sql.raw(`(excluded.device_at is not null and (s.device_at is null
  or excluded.device_at < s.device_at
  or (excluded.device_at = s.device_at and excluded.device_event_id collate "C" < s.device_event_id collate "C")))`);
