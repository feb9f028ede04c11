import {
  compiledRowMapper,
  type Database,
  journeySteps,
  journeys,
  newId,
  pgErrorCode,
  queryRows,
} from "@odyssey/db";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import type { z } from "zod";
import { analyticsVersionOf } from "../analytics/version";
import type { OrgContext } from "../context";
import { ConflictError, journeyNotFound } from "../errors";
import { deleteJourneyEvents } from "../events/store";
import { type Cursor, cursorReader, encodeCursor } from "../paging";
import { preparedPerDatabase } from "../prepared";
import type {
  CreateJourneyInput,
  Journey,
  JourneyChanges,
  JourneyList,
  ListJourneysInput,
  Step,
} from "./schema";

type Op<I> = { ctx: OrgContext; input: I };

type JourneyRow = typeof journeys.$inferSelect;
type StepRow = typeof journeySteps.$inferSelect;

function toStep(row: StepRow): Step {
  return {
    id: row.id,
    journeyId: row.journeyId,
    stepKey: row.stepKey,
    name: row.name,
    stepType: row.stepType,
    index: row.index,
    readingLevel: row.readingLevel,
    fieldCount: row.fieldCount,
    requiredArtifacts: row.requiredArtifacts,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toJourney(row: JourneyRow, steps: StepRow[]): Journey {
  return {
    id: row.id,
    orgId: row.orgId,
    slug: row.slug,
    displayName: row.displayName,
    sourceSystem: row.sourceSystem as Journey["sourceSystem"],
    environment: row.environment as Journey["environment"],
    allowedOrigins: row.allowedOrigins,
    steps: steps.map(toStep),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

const alreadyExists = (slug: string) =>
  new ConflictError(`Journey with slug "${slug}" already exists in this organization`);

export async function createJourney({
  ctx,
  input,
}: Op<z.output<typeof CreateJourneyInput>>): Promise<Journey> {
  const now = new Date();
  const journey: JourneyRow = {
    orgId: ctx.orgId,
    id: newId("journey"),
    slug: input.slug,
    displayName: input.displayName,
    sourceSystem: input.sourceSystem,
    environment: input.environment,
    allowedOrigins: input.allowedOrigins,
    createdAt: now,
    updatedAt: now,
  };
  const steps: StepRow[] = sortSteps(
    input.steps.map((step) => ({
      orgId: ctx.orgId,
      id: newId("step"),
      journeyId: journey.id,
      stepKey: step.stepKey,
      index: step.index,
      name: step.name ?? null,
      stepType: step.stepType ?? null,
      readingLevel: step.readingLevel ?? null,
      fieldCount: step.fieldCount ?? null,
      requiredArtifacts: step.requiredArtifacts ?? [],
      createdAt: now,
      updatedAt: now,
    })),
  );
  // One statement: atomic without a transaction, one round trip, and SQL whose text does not
  // depend on the number of steps (they travel as one JSON parameter), so the driver prepares it
  // once. Every column is written from here, so nothing needs to come back. The unique
  // constraint on (org_id, slug) decides races.
  const at = sql`${now.toISOString()}::timestamptz`;
  const stepsJson = JSON.stringify(
    steps.map((s) => ({
      id: s.id,
      step_key: s.stepKey,
      index: s.index,
      name: s.name,
      step_type: s.stepType,
      reading_level: s.readingLevel,
      field_count: s.fieldCount,
      required_artifacts: s.requiredArtifacts,
    })),
  );
  try {
    await queryRows(
      ctx.db,
      sql`with journey as (
        insert into ${journeys} (org_id, id, slug, display_name, source_system, environment, allowed_origins,
          created_at, updated_at)
        values (${journey.orgId}, ${journey.id}, ${journey.slug}, ${journey.displayName}, ${journey.sourceSystem},
          ${journey.environment}, ${sql.param(journey.allowedOrigins, journeys.allowedOrigins)}, ${at}, ${at})
      ), steps as (
        insert into ${journeySteps} (org_id, id, journey_id, step_key, index, name, step_type, reading_level,
          field_count, required_artifacts, created_at, updated_at)
        select ${journey.orgId}, s.id, ${journey.id}, s.step_key, s.index, s.name, s.step_type, s.reading_level,
          s.field_count, s.required_artifacts, ${at}, ${at}
        from jsonb_to_recordset(${stepsJson}::jsonb) as s(id text, step_key text, index integer, name text,
          step_type text, reading_level double precision, field_count integer, required_artifacts text[])
      )
      select 1`,
    );
  } catch (error) {
    const { code, constraint } = pgErrorCode(error);
    if (code === "23505" && constraint === "journeys_org_slug_unique") throw alreadyExists(input.slug);
    throw error;
  }
  return toJourney(journey, steps);
}

const sortSteps = (steps: StepRow[]) => steps.sort((a, b) => a.index - b.index);

async function stepsOf(db: Database, orgId: string, journeyIds: string[]): Promise<Map<string, StepRow[]>> {
  const byJourney = new Map<string, StepRow[]>(journeyIds.map((id) => [id, []]));
  if (journeyIds.length === 0) return byJourney;
  const rows = await db
    .select()
    .from(journeySteps)
    .where(and(eq(journeySteps.orgId, orgId), inArray(journeySteps.journeyId, journeyIds)))
    .orderBy(asc(journeySteps.journeyId), asc(journeySteps.index));
  for (const row of rows) byJourney.get(row.journeyId)?.push(row);
  return byJourney;
}

/** A journey's steps, joined to it (left join: a journey without steps still gives a row). */
export const stepsOfJourneyJoin = and(
  eq(journeySteps.orgId, journeys.orgId),
  eq(journeySteps.journeyId, journeys.id),
);

/** The journey, one of its steps and its analytics version: what `versionedJourneyFromRows` reads. */
export const versionedJourneyColumns = {
  journey: journeys,
  step: journeySteps,
  analyticsVersion: analyticsVersionOf(journeys.orgId, journeys.id),
};

/**
 * The journey, its steps and its analytics version in one round trip: one row per step (one row
 * with no step when it has none).
 */
const journeyWithSteps = preparedPerDatabase((db) =>
  compiledRowMapper(
    db
      .select(versionedJourneyColumns)
      .from(journeys)
      .leftJoin(journeySteps, stepsOfJourneyJoin)
      .where(and(eq(journeys.orgId, sql.placeholder("orgId")), eq(journeys.slug, sql.placeholder("slug"))))
      .orderBy(asc(journeySteps.index))
      .prepare("journey_with_steps"),
  ),
);

/** The journey with its steps; every organization sees only its own (others are "not found"). */
export async function findJourney(op: Op<{ slug: string }>): Promise<Journey> {
  return (await findVersionedJourney(op)).journey;
}

/** The journey with its steps, and the version of its analytics' inputs (analytics/cache.ts). */
export async function findVersionedJourney({
  ctx,
  input,
}: Op<{ slug: string }>): Promise<{ journey: Journey; analyticsVersion: string }> {
  const found = versionedJourneyFromRows(
    await journeyWithSteps(ctx.db).execute({ orgId: ctx.orgId, slug: input.slug }),
  );
  if (!found) throw journeyNotFound(input.slug);
  return found;
}

/** A journey read one row per step (`journey` null: no such journey), with its analytics version. */
export function versionedJourneyFromRows(
  rows: { journey: JourneyRow | null; step: StepRow | null; analyticsVersion: string }[],
): { journey: Journey; analyticsVersion: string } | undefined {
  const journey = journeyFromRows(rows);
  const first = rows[0];
  return journey && first ? { journey, analyticsVersion: first.analyticsVersion } : undefined;
}

/** A journey read one row per step, left-joined (`journey` null or no rows: no such journey). */
function journeyFromRows(rows: { journey: JourneyRow | null; step: StepRow | null }[]): Journey | undefined {
  const first = rows[0];
  if (!first?.journey) return undefined;
  const steps: StepRow[] = [];
  for (const { step } of rows) if (step) steps.push(step);
  return toJourney(first.journey, steps);
}

/**
 * One statement for every change (a field left out, null, keeps its value) that also answers the
 * updated journey's steps: one row per step, one round trip.
 */
const updateJourneyRow = preparedPerDatabase((db) => {
  const keep = (column: AnyPgColumn, name: string, type: string) =>
    sql`coalesce(${sql.placeholder(name)}::${sql.raw(type)}, ${column})`;
  const changes = {
    displayName: keep(journeys.displayName, "displayName", "text"),
    environment: keep(journeys.environment, "environment", "text"),
    sourceSystem: keep(journeys.sourceSystem, "sourceSystem", "text"),
    allowedOrigins: keep(journeys.allowedOrigins, "allowedOrigins", "text[]"),
  };
  // A request that changes nothing leaves `updatedAt` as it was: repeating a PUT is a no-op.
  const changed = sql`(${sql.join(Object.values(changes), sql`, `)}) is distinct from
    (${journeys.displayName}, ${journeys.environment}, ${journeys.sourceSystem}, ${journeys.allowedOrigins})`;
  const updated = db.$with("updated").as(
    db
      .update(journeys)
      .set({
        ...changes,
        updatedAt: sql`case when ${changed} then ${sql.placeholder("updatedAt")}::timestamptz else ${journeys.updatedAt} end`,
      })
      .where(and(eq(journeys.orgId, sql.placeholder("orgId")), eq(journeys.slug, sql.placeholder("slug"))))
      .returning(),
  );
  return compiledRowMapper(
    db
      .with(updated)
      .select({
        journey: {
          orgId: updated.orgId,
          id: updated.id,
          slug: updated.slug,
          displayName: updated.displayName,
          sourceSystem: updated.sourceSystem,
          environment: updated.environment,
          allowedOrigins: updated.allowedOrigins,
          createdAt: updated.createdAt,
          updatedAt: updated.updatedAt,
        },
        step: journeySteps,
      })
      .from(updated)
      .leftJoin(
        journeySteps,
        and(eq(journeySteps.orgId, updated.orgId), eq(journeySteps.journeyId, updated.id)),
      )
      .orderBy(asc(journeySteps.index))
      .prepare("update_journey"),
  );
});

export async function updateJourney({
  ctx,
  input,
}: Op<{ slug: string } & z.output<typeof JourneyChanges>>): Promise<Journey> {
  const { slug, displayName, environment, sourceSystem, allowedOrigins } = input;
  const rows = await updateJourneyRow(ctx.db).execute({
    orgId: ctx.orgId,
    slug,
    displayName: displayName ?? null,
    environment: environment ?? null,
    sourceSystem: sourceSystem ?? null,
    allowedOrigins: allowedOrigins ?? null,
    // As text: drizzle leaves serializing dates to itself, and a placeholder bypasses it.
    updatedAt: new Date().toISOString(),
  });
  const journey = journeyFromRows(rows);
  if (!journey) throw journeyNotFound(slug);
  return journey;
}

/**
 * Deletes the journey's row first, which locks it before anything else is touched, then (by
 * cascade) its steps, summaries and snapshots, then its events. Storing events locks the same row
 * before it writes (`storeEvents`), so the two lock in one order and cannot deadlock: this waits
 * for the batches under way, and batches arriving meanwhile store nothing and are answered 503.
 */
export async function deleteJourney({ ctx, input }: Op<{ slug: string; id?: string }>) {
  // With an id, only that journey: a seed deleting its own, which another may have replaced.
  const row = await ctx.db.transaction(async (tx) => {
    const only = input.id === undefined ? undefined : eq(journeys.id, input.id);
    const [deleted] = await tx
      .delete(journeys)
      .where(and(eq(journeys.orgId, ctx.orgId), eq(journeys.slug, input.slug), only))
      .returning({ id: journeys.id, slug: journeys.slug });
    // Steps, summaries and snapshots cascade; the per-event tables carry no foreign key.
    if (deleted) await deleteJourneyEvents(tx, ctx.orgId, deleted.id);
    return deleted;
  });
  if (!row) throw journeyNotFound(input.slug);
  return { id: row.id, slug: row.slug, deleted: true as const };
}

const readCursor = cursorReader("journey", "journey");

/**
 * The journeys after `cursor` in the list's order. A row comparison, so that the position bounds
 * the index scan rather than filtering every newer journey (a page deep in a large organization
 * read them all).
 */
export const journeysBefore = (cursor: Cursor) =>
  sql`(${journeys.createdAt}, ${journeys.id}) < (${sql.param(cursor.createdAt, journeys.createdAt)}::timestamptz, ${cursor.id})`;

/** Newest first, by keyset on (created_at, id), so pages stay stable while journeys are added. */
export async function listJourneys({
  ctx,
  input,
}: Op<z.output<typeof ListJourneysInput>>): Promise<JourneyList> {
  const after = input.cursor === undefined ? undefined : readCursor(input.cursor);
  const rows = await ctx.db
    .select()
    .from(journeys)
    .where(and(eq(journeys.orgId, ctx.orgId), after ? journeysBefore(after) : undefined))
    .orderBy(desc(journeys.createdAt), desc(journeys.id))
    .limit(input.limit + 1);
  const page = rows.slice(0, input.limit);
  const steps = await stepsOf(
    ctx.db,
    ctx.orgId,
    page.map((r) => r.id),
  );
  const last = page.at(-1);
  return {
    data: page.map((row) => toJourney(row, steps.get(row.id) ?? [])),
    nextCursor: rows.length > input.limit && last ? encodeCursor(last) : null,
  };
}
