import { sql } from "drizzle-orm";
import {
  doublePrecision,
  foreignKey,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
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
  (t) => [primaryKey({ columns: [t.orgId, t.id] }), unique("api_keys_hash_unique").on(t.hash)],
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
