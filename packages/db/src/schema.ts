import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  doublePrecision,
  foreignKey,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

// Every tenant table carries org_id, and every primary key, unique constraint and foreign key
// includes it, so the schema can be distributed by org_id (Citus) without changes.

const timestamps = {
  createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
};

export const organizations = pgTable("organizations", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique("organizations_slug_unique"),
  name: text("name").notNull(),
  createdAt: timestamps.createdAt,
});

/** Secret (`ody_sk_…`) and publishable (`ody_pk_…`) keys; only the SHA-256 of the secret is kept. */
export const apiKeys = pgTable(
  "api_keys",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    name: text("name"),
    kind: text("kind", { enum: ["secret", "publishable"] }).notNull(),
    /** The first characters of the key, shown in listings so a key can be recognised. */
    displayPrefix: text("display_prefix").notNull(),
    hash: text("hash").notNull(),
    scopes: text("scopes").array().notNull(),
    createdAt: timestamps.createdAt,
    revokedAt: timestamp("revoked_at", { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.id] }),
    unique("api_keys_hash_unique").on(t.hash),
    // `odyssey keys revoke <key id>` names a key by its id alone, across organizations (like the
    // hash, a deliberate lookup without org_id): one key per id, found without reading every key.
    unique("api_keys_id_unique").on(t.id),
  ],
);

export const journeys = pgTable(
  "journeys",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    slug: text("slug").notNull(),
    displayName: text("display_name").notNull(),
    sourceSystem: text("source_system").notNull(),
    environment: text("environment").notNull(),
    allowedOrigins: text("allowed_origins").array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.id] }),
    unique("journeys_org_slug_unique").on(t.orgId, t.slug),
    index("journeys_org_created_idx").on(t.orgId, t.createdAt, t.id),
    // A browser's preflight asks whether any journey, of any organization, takes events from an
    // origin (events/preflight.ts): these answer it without reading every journey. Without a
    // pending list (fastupdate), which every search would read whole: journeys are written rarely.
    index("journeys_allowed_origins_idx").using("gin", t.allowedOrigins).with({ fastupdate: false }),
    index("journeys_open_to_all_idx").on(t.orgId).where(sql`cardinality(${t.allowedOrigins}) = 0`),
  ],
);

export const journeySteps = pgTable(
  "journey_steps",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    journeyId: text("journey_id").notNull(),
    stepKey: text("step_key").notNull(),
    index: integer("index").notNull(),
    name: text("name"),
    stepType: text("step_type"),
    readingLevel: doublePrecision("reading_level"),
    fieldCount: integer("field_count"),
    requiredArtifacts: text("required_artifacts").array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.id] }),
    unique("journey_steps_key_unique").on(t.orgId, t.journeyId, t.stepKey),
    unique("journey_steps_index_unique").on(t.orgId, t.journeyId, t.index),
    foreignKey({
      name: "journey_steps_journey_fk",
      columns: [t.orgId, t.journeyId],
      foreignColumns: [journeys.orgId, journeys.id],
    }).onDelete("cascade"),
  ],
);

// Events and the summaries Retrieve reads (docs/analytics.md). The events table is append-only
// and nothing reads it per event: Retrieve reads the summaries, plus at most one hour of one
// journey's events (the part of the trailing 24 hours that starts mid-hour, which the hour
// counts cannot split), and deleting a journey deletes its events. Its one btree,
// `(journey_id, occurred_at)`, serves both; there is no primary key (another index entry per
// insert). It can become `PARTITION BY RANGE (occurred_at)` without changing a query. A unique
// key on a partitioned table must include the partition key, and a retry carries a different
// corrected time, so duplicate detection lives in `event_ids`, a narrow table keyed by the
// client's id alone.

const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

const journeyFk = (name: string, t: { orgId: AnyPgColumn; journeyId: AnyPgColumn }) =>
  foreignKey({
    name,
    columns: [t.orgId, t.journeyId],
    foreignColumns: [journeys.orgId, journeys.id],
  }).onDelete("cascade");

export const events = pgTable(
  "events",
  {
    orgId: text("org_id").notNull(),
    journeyId: text("journey_id").notNull(),
    /** The corrected event time (clock skew and future clamp applied). */
    occurredAt: instant("occurred_at").notNull(),
    id: text("id").notNull(),
    receivedAt: instant("received_at").notNull(),
    /** The time the client wrote, before correction. */
    clientTime: instant("client_time").notNull(),
    type: text("type").notNull(),
    sessionId: text("session_id").notNull(),
    stepKey: text("step_key"),
    field: text("field"),
    device: text("device"),
  },
  // No foreign key on the two per-event tables: a check per row would cost ingestion more than
  // everything else it does. The batch's statement also upserts `event_sessions`, whose foreign
  // key fails the whole statement when the journey is gone, and deleting a journey deletes its
  // rows here explicitly (journeys/operations.ts). Uniqueness lives in `event_ids`.
  (t) => [index("events_journey_time").on(t.journeyId, t.occurredAt)],
);

/** The name of `event_ids`' key, whose unique violation tells ingestion an id is already stored. */
export const EVENT_IDS_KEY = "event_ids_pk";

/**
 * One row per stored event: the first insert of a client id wins, retries find it taken. The id
 * is held as `uuid` (16 bytes, compared as bytes) and leads the key: ids hardly ever repeat, so
 * each comparison in the index's search for every event is settled by that fixed-width first
 * column instead of after two text columns that are equal throughout a journey (docs/benchmarks.md,
 * fix 29). The key still includes `org_id`, as every key does.
 */
export const eventIds = pgTable(
  "event_ids",
  {
    orgId: text("org_id").notNull(),
    journeyId: text("journey_id").notNull(),
    id: uuid("id").notNull(),
  },
  (t) => [primaryKey({ name: EVENT_IDS_KEY, columns: [t.id, t.orgId, t.journeyId] })],
);

/** Per session: what the definitions need, folded with min/max so arrival order never matters. */
export const eventSessions = pgTable(
  "event_sessions",
  {
    orgId: text("org_id").notNull(),
    journeyId: text("journey_id").notNull(),
    sessionId: text("session_id").notNull(),
    firstStartAt: instant("first_start_at"),
    firstEventAt: instant("first_event_at").notNull(),
    /** The entry: the first session_start, else the first event of any type. */
    entryAt: instant("entry_at").notNull().generatedAlwaysAs(sql`coalesce(first_start_at, first_event_at)`),
    lastEventAt: instant("last_event_at").notNull(),
    /** Device of the earliest event that has one; ties go to the smaller event id. */
    device: text("device"),
    deviceAt: instant("device_at"),
    deviceEventId: text("device_event_id"),
    furthestStepIndex: integer("furthest_step_index"),
    /** Indexes of the steps the session viewed (known steps only), sorted: the funnel's "reached". */
    viewedStepIndexes: integer("viewed_step_indexes").array().notNull().default(sql`'{}'::integer[]`),
    firstSuccessAt: instant("first_success_at"),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.journeyId, t.sessionId] }),
    index("event_sessions_entry_idx").on(t.orgId, t.journeyId, t.entryAt),
    journeyFk("event_sessions_journey_fk", t),
  ],
);

/**
 * Every batch of live traffic updates the current hour's rows and the step keys' rows; one row
 * each would make concurrent batches queue on its lock until commit. Each batch writes one of
 * `SUMMARY_SHARDS` rows instead, and readers add (or take the latest of) the shards. Hours before
 * the one before the batch's receipt are not live: their events keep shard 0.
 */
export const SUMMARY_SHARDS = 8;

/**
 * Events per UTC hour, one count column per event type: a batch spread over several hours
 * writes one row per hour, not one per hour and type.
 */
export const eventHourCounts = pgTable(
  "event_hour_counts",
  {
    orgId: text("org_id").notNull(),
    journeyId: text("journey_id").notNull(),
    hour: instant("hour").notNull(),
    shard: smallint("shard").notNull().default(0),
    sessionStart: integer("session_start").notNull().default(0),
    stepView: integer("step_view").notNull().default(0),
    fieldFocus: integer("field_focus").notNull().default(0),
    fieldError: integer("field_error").notNull().default(0),
    submitAttempt: integer("submit_attempt").notNull().default(0),
    submitSuccess: integer("submit_success").notNull().default(0),
    submitFailure: integer("submit_failure").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.journeyId, t.hour, t.shard] }),
    journeyFk("event_hour_counts_journey_fk", t),
  ],
);

/** Per step key named by any event (known step or not): when it was last seen. */
export const eventStepKeys = pgTable(
  "event_step_keys",
  {
    orgId: text("org_id").notNull(),
    journeyId: text("journey_id").notNull(),
    stepKey: text("step_key").notNull(),
    shard: smallint("shard").notNull().default(0),
    lastSeenAt: instant("last_seen_at").notNull(),
    eventCount: integer("event_count").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.journeyId, t.stepKey, t.shard] }),
    journeyFk("event_step_keys_journey_fk", t),
  ],
);

/**
 * A counter per journey that every change to its analytics' inputs moves forward (a batch that
 * stored new events, a new snapshot), in the same transaction as the change. Retrieve's cache of
 * computed analytics is valid while the sum of the shards is unchanged, in every process.
 * Sharded like the summaries, so concurrent batches do not queue on one row.
 */
export const analyticsVersions = pgTable(
  "analytics_versions",
  {
    orgId: text("org_id").notNull(),
    journeyId: text("journey_id").notNull(),
    shard: smallint("shard").notNull(),
    version: bigint("version", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.journeyId, t.shard] }),
    journeyFk("analytics_versions_journey_fk", t),
  ],
);

/** A journey's configuration and analytics frozen at one moment. */
export const snapshots = pgTable(
  "snapshots",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    journeyId: text("journey_id").notNull(),
    createdAt: instant("created_at").notNull(),
    /** superjson of the journey and of its analytics, so dates come back as dates. */
    configuration: jsonb("configuration").notNull(),
    analytics: jsonb("analytics").notNull(),
    /**
     * The size of both as JSON text, in bytes: what the list weighs a page by before reading
     * them (a journey's configuration can approach the largest request body).
     */
    jsonBytes: integer("json_bytes")
      .notNull()
      .generatedAlwaysAs(sql`octet_length(configuration::text) + octet_length(analytics::text)`),
    /**
     * The order snapshots were taken in: of two taken in the same millisecond, the later one is
     * the newest (`lastArtifactCreated`, the list's order), which the random ids cannot tell.
     */
    seq: bigint("seq", { mode: "number" }).notNull().generatedAlwaysAsIdentity(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.id] }),
    // The list's keyset, newest first: (created_at, seq) past the cursor, seq breaking ties.
    index("snapshots_journey_created_idx").on(t.orgId, t.journeyId, t.createdAt, t.seq),
    journeyFk("snapshots_journey_fk", t),
  ],
);

/**
 * `Idempotency-Key` records: the first request with a key claims it (`in_flight`), and its
 * answer is stored with the work it did (`done`), so a retry on any process replays it.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    /** SHA-256 of the operation and its input: a reuse with another request is refused. */
    fingerprint: text("fingerprint").notNull(),
    state: text("state", { enum: ["in_flight", "done"] }).notNull(),
    /** Until when the claim of an `in_flight` request holds; past it, a crashed request's key is free again. */
    leaseUntil: timestamp("lease_until", { withTimezone: true, precision: 3 }).notNull(),
    /**
     * The stored answer (superjson of the result, or the domain error). `json`, not `jsonb`, so a
     * replay answers the members in the order the first answer sent them.
     */
    response: json("response"),
    createdAt: timestamps.createdAt,
  },
  // Expired keys are found by age, a few at each new claim (idempotency/run.ts).
  (t) => [
    primaryKey({ columns: [t.orgId, t.key] }),
    index("idempotency_keys_org_created_idx").on(t.orgId, t.createdAt),
  ],
);
