import {
  type Database,
  EVENT_IDS_KEY,
  eventIds,
  events,
  pgErrorCode,
  prepareSql,
  type Queryable,
  SUMMARY_SHARDS,
} from "@odyssey/db";
import { type SQL, sql } from "drizzle-orm";
import { EventType } from "../analytics/schema";
import { JourneyBeingDeletedError, journeyNotFound } from "../errors";
import { preparedPerDatabase } from "../prepared";
import type { Device } from "./schema";

const HOUR_MS = 3_600_000;

/**
 * A batch of validated events with their corrected times, ready to store, held column by column
 * (the statement takes each column as one typed array parameter). Every column has one entry per
 * event; ids are distinct within the batch.
 */
export class EventColumns {
  readonly id: string[] = [];
  readonly type: EventType[] = [];
  readonly sessionId: string[] = [];
  /** Corrected event times, in milliseconds since the epoch. */
  readonly occurredAt: number[] = [];
  /** The times the client wrote, before correction, in milliseconds since the epoch. */
  readonly clientTime: number[] = [];
  readonly stepKey: (string | null)[] = [];
  /** The step's index when `stepKey` names a step of the journey. */
  readonly stepIndex: (number | null)[] = [];
  readonly field: (string | null)[] = [];
  readonly device: (Device | null)[] = [];

  get length(): number {
    return this.id.length;
  }

  push(
    id: string,
    type: EventType,
    sessionId: string,
    occurredAt: number,
    clientTime: number,
    stepKey: string | null,
    stepIndex: number | null,
    field: string | null,
    device: Device | null,
  ): void {
    this.id.push(id);
    this.type.push(type);
    this.sessionId.push(sessionId);
    this.occurredAt.push(occurredAt);
    this.clientTime.push(clientTime);
    this.stepKey.push(stepKey);
    this.stepIndex.push(stepIndex);
    this.field.push(field);
    this.device.push(device);
  }
}

/**
 * A Postgres array literal (`{"a","b\"c",NULL}`): every element quoted, with `"` and `\`
 * escaped, so any text survives; integers as they are. Both drivers pass a string parameter
 * through unchanged, and this is several times cheaper than their per-element serializers.
 */
export function arrayLiteral(values: readonly (string | number | null)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) out += ",";
    if (value === null || value === undefined) out += "NULL";
    else if (typeof value === "number") out += String(value);
    else out += `"${value.includes('"') || value.includes("\\") ? value.replace(/["\\]/g, "\\$&") : value}"`;
  }
  return `${out}}`;
}

/**
 * Inserts the events whose ids are new to the journey and folds exactly those into every
 * summary, in ONE statement: atomic without an explicit transaction, and one round trip.
 *
 * The rows arrive as one typed array per column (UNNEST), each sent as an array literal
 * (`arrayLiteral`); event times travel as milliseconds since the epoch, which costs neither side a
 * date text to write or parse. `fresh` holds the ids that `event_ids` took, and only those events
 * are inserted and folded. Ids are taken first with a plain insert, which fails the whole
 * statement (so stores nothing) when one of them is already stored; only then is the statement run
 * again with `on conflict do nothing`, which skips stored ids but costs each id a speculative
 * insertion (a lock, a second index search and a confirmation record): retries are rare next to
 * new events (docs/benchmarks.md, fix 29). A concurrent request carrying the same id waits on
 * that index entry either way. So `db` must not be a transaction: the first statement's failure
 * would abort it, and the second could not run. Every fold is order-free (min, max, sum, set union,
 * earliest device with ties to the smaller id in byte order), so arrival order never changes a
 * summary. Each insert writes its rows in key order, so concurrent batches lock rows in the same
 * order and cannot deadlock. A batch that stored anything also moves the journey's analytics
 * version on (analytics/cache.ts).
 *
 * Before it writes anything the statement locks the journey's row `FOR KEY SHARE`, and it writes
 * only when that row is still there. Every write reads its rows from `input` (the analytics
 * version from `fresh`, which does too), and `input` yields none before its one-time filter has
 * read `confirmed`, which takes that lock: so any row written was written under it. Deleting a
 * journey locks the same row first (`deleteJourney` deletes it before anything else) and only
 * then the summaries and events, so both take their locks in one order: a batch under way makes
 * the delete wait until it commits. A batch that reaches the row while a delete holds it does not
 * wait (`nowait`): deleting a journey of millions of events takes seconds, and batches waiting for
 * it would hold every connection of the pool, stalling every other journey. It stores nothing and
 * is answered 503 with Retry-After; sent again, it finds the journey gone (404), or stored if the
 * delete rolled back. (The summaries' foreign keys take the same lock, but only at the end of the
 * statement, after the summary rows it updates are locked: too late, for the delete, holding the
 * journey's row, waits for those.)
 */
export async function storeEvents(
  db: Database,
  batch: {
    orgId: string;
    journeyId: string;
    journeySlug: string;
    receivedAt: Date;
    events: EventColumns;
    /**
     * Store only if the key with this hash is unrevoked and the journey still exists with these
     * allowed origins (a lookup remembered from an earlier batch); else store nothing and answer
     * "unconfirmed".
     */
    confirm?: { keyHash: string; allowedOrigins: string[] } | undefined;
  },
): Promise<number | "unconfirmed"> {
  const { receivedAt, events: e, confirm } = batch;
  const values = {
    ids: arrayLiteral(e.id),
    occurredAt: arrayLiteral(e.occurredAt),
    clientTime: arrayLiteral(e.clientTime),
    types: arrayLiteral(e.type),
    sessionIds: arrayLiteral(e.sessionId),
    stepKeys: arrayLiteral(e.stepKey),
    stepIndexes: arrayLiteral(e.stepIndex),
    fields: arrayLiteral(e.field),
    devices: arrayLiteral(e.device),
    org: batch.orgId,
    journey: batch.journeyId,
    receivedAt: receivedAt.toISOString(),
    // Live traffic's hot summary rows (the step keys, the hour of receipt and the one before)
    // are spread over shards; older hours, which only late or replayed events reach, keep one row.
    shard: Math.floor(Math.random() * SUMMARY_SHARDS),
    liveFrom: new Date((Math.floor(receivedAt.getTime() / HOUR_MS) - 1) * HOUR_MS).toISOString(),
    keyHash: confirm?.keyHash ?? null,
    allowedOrigins: confirm ? arrayLiteral(confirm.allowedOrigins) : null,
  };
  const [result] = await storeNew(db)
    .execute(values)
    .catch((error: unknown) => {
      if (isStoredId(error)) return storeSkippingStored(db).execute(values);
      throw error;
    })
    .catch((error: unknown) => {
      throw isBeingDeleted(error) ? new JourneyBeingDeletedError(batch.journeySlug, error) : error;
    });
  if (!result?.confirmed) return "unconfirmed";
  // The journey was deleted since it was looked up: nothing was written.
  if (!result.found) throw journeyNotFound(batch.journeySlug);
  return result.stored;
}

const param = (name: string) => sql.placeholder(name);
const org = sql`${param("org")}::text`;
const journey = sql`${param("journey")}::text`;
const shard = sql`${param("shard")}::smallint`;
const liveFrom = sql`${param("liveFrom")}::timestamptz`;

/** The journey's row is held by a deletion under way (`for key share nowait` found it locked). */
const isBeingDeleted = (error: unknown) => pgErrorCode(error).code === "55P03";

/** A batch's ids are already in `event_ids` (the plain insert's unique violation). */
const isStoredId = (error: unknown) => {
  const { code, constraint } = pgErrorCode(error);
  return code === "23505" && constraint === EVENT_IDS_KEY;
};

/** The statement `storeEvents` runs, compiled once per database (inputs as placeholders). */
const storeStatement = (onStoredId: SQL) =>
  preparedPerDatabase((db) =>
    prepareSql<{ stored: number; confirmed: boolean; found: boolean }>(
      db,
      sql`with locked_journey as (
      -- Locks the journey's row (FOR KEY SHARE) before anything is written, or fails at once
      -- while a deletion holds it; see storeEvents.
      select allowed_origins from journeys where org_id = ${org} and id = ${journey} for key share nowait
    ), confirmed as (
      select exists (select 1 from locked_journey) as found,
        ${param("keyHash")}::text is null
        or (exists (select 1 from api_keys where hash = ${param("keyHash")}::text and revoked_at is null)
          and exists (select 1 from locked_journey where allowed_origins = ${param("allowedOrigins")}::text[])) as ok
    ), input as (
      -- Milliseconds to the columns' precision: exact for every storable time (years 0001-9999).
      select id, to_timestamp(occurred_ms / 1000)::timestamptz(3) as occurred_at,
        to_timestamp(client_ms / 1000)::timestamptz(3) as client_time,
        type, session_id, step_key, step_index, field, device
      from unnest(${param("ids")}::text[], ${param("occurredAt")}::float8[],
        ${param("clientTime")}::float8[], ${param("types")}::text[],
        ${param("sessionIds")}::text[], ${param("stepKeys")}::text[],
        ${param("stepIndexes")}::integer[], ${param("fields")}::text[], ${param("devices")}::text[])
        as x(id, occurred_ms, client_ms, type, session_id, step_key, step_index, field, device)
      -- This one-time filter runs the lock above before the first row is read, so before any
      -- insert below: every write reads rows from here (the analytics version reads "fresh").
      where (select found and ok from confirmed)
    ), fresh as (
      insert into event_ids (org_id, journey_id, id)
      select ${org}, ${journey}, id::uuid from input order by 3
      ${onStoredId}
      returning id
    ), new_events as (
      select i.* from input i join fresh f on f.id = i.id::uuid
    ), stored as (
      insert into events (org_id, journey_id, occurred_at, id, received_at, client_time, type, session_id,
        step_key, field, device)
      select ${org}, ${journey}, occurred_at, id, ${param("receivedAt")}::timestamptz, client_time, type,
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
      insert into event_hour_counts as h (org_id, journey_id, hour, shard, ${typeColumns})
      select ${org}, ${journey}, hour, case when hour >= ${liveFrom} then ${shard} else 0 end, ${countPerType}
      from (select ${utcHour} as hour, type from new_events) as e
      group by hour
      order by hour
      on conflict (org_id, journey_id, hour, shard) do update set ${addCounts}
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
    select (select count(*) from stored)::int as stored, (select ok from confirmed) as confirmed,
      (select found from confirmed) as found`,
    ),
  );

/** Fails when an id is already stored. */
const storeNew = storeStatement(sql``);
/** Skips the ids already stored. */
const storeSkippingStored = storeStatement(sql`on conflict do nothing`);

// event_hour_counts has one count column per event type, named as the type.
const typeColumns = sql.raw(EventType.options.join(", "));
const countPerType = sql.raw(
  EventType.options.map((type) => `count(*) filter (where type = '${type}')`).join(", "),
);
const addCounts = sql.raw(
  EventType.options.map((type) => `${type} = h.${type} + excluded.${type}`).join(", "),
);

/** The UTC hour an event falls in, whatever the session's time zone. */
const utcHour = sql.raw(`date_bin('1 hour', occurred_at, timestamptz '2000-01-01T00:00:00Z')`);

/**
 * Deletes a journey's events (through the index that leads with the journey) and their ids, which
 * `event_ids`' key, led by the id, finds one by one: every stored event has its row there, and
 * only stored events do, since the statement above writes both or neither.
 */
export async function deleteJourneyEvents(db: Queryable, orgId: string, journeyId: string): Promise<void> {
  await db.execute(sql`with gone as (
      delete from ${events} where ${events.journeyId} = ${journeyId} and ${events.orgId} = ${orgId}
      returning ${events.id}
    )
    delete from ${eventIds}
    where ${eventIds.id} in (select id::uuid from gone)
      and ${eventIds.orgId} = ${orgId} and ${eventIds.journeyId} = ${journeyId}`);
}

/** The earliest event with a device wins; at equal times the smaller event id (byte order). */
const newDeviceWins = sql.raw(`(excluded.device_at is not null and (s.device_at is null
  or excluded.device_at < s.device_at
  or (excluded.device_at = s.device_at and excluded.device_event_id collate "C" < s.device_event_id collate "C")))`);
