import { apiKeys, type Database, journeySteps, journeys } from "@odyssey/db";
import { and, eq, sql } from "drizzle-orm";
import { hashKey, keyColumns, type VerifiedKey, verifiedKeyRow } from "../auth/keys";
import type { OrgContext } from "../context";
import { journeyNotFound } from "../errors";
import { stepsOfJourneyJoin } from "../journeys/operations";
import { preparedPerDatabase } from "../prepared";

/** What ingestion needs of the journey a batch names. */
export interface JourneyForEvents {
  id: string;
  allowedOrigins: string[];
  stepIndexByKey: Map<string, number>;
}

/** The journey a batch named, as read with the key that sent it (`null`: no such journey). */
export interface JourneyLookup {
  slug: string;
  journey: JourneyForEvents | null;
}

function journeyFromRows(
  rows: {
    journeyId: string | null;
    allowedOrigins: string[] | null;
    stepKey: string | null;
    index: number | null;
  }[],
): JourneyForEvents | null {
  const first = rows[0];
  if (!first?.journeyId) return null;
  const stepIndexByKey = new Map<string, number>();
  for (const row of rows)
    if (row.stepKey !== null && row.index !== null) stepIndexByKey.set(row.stepKey, row.index);
  return { id: first.journeyId, allowedOrigins: first.allowedOrigins ?? [], stepIndexByKey };
}

/**
 * The key by the hash of what was presented and, in the same query, the journey of that key's
 * organization named `slug` with its steps (one row per step): an event batch costs one round
 * trip before its insert, not two. The key is checked exactly as `verifyKey` checks it, and the
 * journey is only read within the key's organization.
 */
const keyAndJourney = preparedPerDatabase((db) =>
  db
    .select({
      ...keyColumns,
      journeyId: journeys.id,
      allowedOrigins: journeys.allowedOrigins,
      stepKey: journeySteps.stepKey,
      index: journeySteps.index,
    })
    .from(apiKeys)
    .leftJoin(journeys, and(eq(journeys.orgId, apiKeys.orgId), eq(journeys.slug, sql.placeholder("slug"))))
    .leftJoin(journeySteps, stepsOfJourneyJoin)
    .where(eq(apiKeys.hash, sql.placeholder("hash")))
    .prepare("key_and_journey_for_events"),
);

export async function verifyKeyForJourney(
  db: Database,
  presented: string,
  slug: string,
): Promise<VerifiedKey & { journey: JourneyLookup }> {
  const digest = hashKey(presented);
  const rows = await keyAndJourney(db).execute({ hash: digest, slug });
  const verified = verifiedKeyRow(rows[0], digest);
  return { ...verified, journey: { slug, journey: journeyFromRows(rows) } };
}

const journeyBySlug = preparedPerDatabase((db) =>
  db
    .select({
      journeyId: journeys.id,
      allowedOrigins: journeys.allowedOrigins,
      stepKey: journeySteps.stepKey,
      index: journeySteps.index,
    })
    .from(journeys)
    .leftJoin(journeySteps, stepsOfJourneyJoin)
    .where(and(eq(journeys.orgId, sql.placeholder("orgId")), eq(journeys.slug, sql.placeholder("slug"))))
    .prepare("journey_for_events"),
);

/** The journey a batch names, from `lookup` when it was read with the key, else from the database. */
export async function findJourneyForEvents(
  ctx: OrgContext,
  slug: string,
  lookup?: JourneyLookup,
): Promise<JourneyForEvents> {
  const journey =
    lookup && lookup.slug === slug
      ? lookup.journey
      : journeyFromRows(await journeyBySlug(ctx.db).execute({ orgId: ctx.orgId, slug }));
  if (!journey) throw journeyNotFound(slug);
  return journey;
}
