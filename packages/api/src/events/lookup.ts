import { apiKeys, compiledRowMapper, type Database, journeySteps, journeys } from "@odyssey/db";
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
  /**
   * Present when the key and journey were read by an earlier batch of this process: the batch's
   * own statement then confirms that the key with this hash is still unrevoked and the journey
   * still has the same allowed origins, and stores nothing if not (the caller reads them again).
   */
  unconfirmedKeyHash?: string;
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
  compiledRowMapper(
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
  ),
);

type KeyForJourney = VerifiedKey & { journey: JourneyLookup };

/**
 * Keys and journeys that passed, by key hash and slug, so that the next batch from the same
 * sender costs one round trip instead of two. Nothing here is trusted on its own: the batch's
 * statement re-checks the key and the journey (see `unconfirmedKeyHash`), so a revoked key or a
 * changed list of origins takes effect on the very next batch, in every process. A journey's id
 * and steps never change; its allowed origins are the one thing to confirm.
 */
const RECENT_CAPACITY = 10_000;
const recentLookups = new WeakMap<Database, Map<string, VerifiedKey & { journey: JourneyForEvents }>>();

function recentOf(db: Database) {
  let recent = recentLookups.get(db);
  if (!recent) {
    recent = new Map();
    recentLookups.set(db, recent);
  }
  return recent;
}

/**
 * The key by what was presented and the journey `slug` of its organization: from the recent
 * lookups when `recent` allows and they hold it (to be confirmed by the batch's statement), else
 * read and checked now. Throws the key's 401s; a journey not found is `journey: null`.
 */
export async function verifyKeyForJourney(
  db: Database,
  presented: string,
  slug: string,
  { recent = true }: { recent?: boolean } = {},
): Promise<KeyForJourney> {
  const digest = hashKey(presented);
  const entryKey = `${digest} ${slug}`;
  const remembered = recentOf(db);
  const known = recent ? remembered.get(entryKey) : undefined;
  if (known)
    return {
      orgId: known.orgId,
      key: known.key,
      journey: { slug, journey: known.journey, unconfirmedKeyHash: digest },
    };
  remembered.delete(entryKey);
  const rows = await keyAndJourney(db).execute({ hash: digest, slug });
  const verified = verifiedKeyRow(rows[0], digest);
  const journey = journeyFromRows(rows);
  if (journey) {
    remembered.set(entryKey, { ...verified, journey });
    if (remembered.size > RECENT_CAPACITY) remembered.delete(remembered.keys().next().value as string);
  }
  return { ...verified, journey: { slug, journey } };
}

const journeyBySlug = preparedPerDatabase((db) =>
  compiledRowMapper(
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
  ),
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
