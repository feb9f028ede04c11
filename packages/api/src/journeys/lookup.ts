import { apiKeys, compiledRowMapper, type Database, journeySteps, journeys } from "@odyssey/db";
import { and, asc, eq, sql } from "drizzle-orm";
import { hashKey, keyColumns, type VerifiedKey, verifiedKeyRow } from "../auth/keys";
import { preparedPerDatabase } from "../prepared";
import { stepsOfJourneyJoin, versionedJourneyColumns, versionedJourneyFromRows } from "./operations";
import type { Journey } from "./schema";

/** The journey a Retrieve named, as read with the key that asked (`found` undefined: no such journey). */
export interface RetrieveLookup {
  slug: string;
  found: { journey: Journey; analyticsVersion: string } | undefined;
}

/**
 * The key by the hash of what was presented and, in the same query, the journey of that key's
 * organization named `slug` with its steps and analytics version (one row per step): Retrieve
 * costs one round trip when its analytics are current, not two. The key is checked exactly as
 * `verifyKey` checks it, and the journey is only read within the key's organization.
 */
const keyAndJourney = preparedPerDatabase((db) =>
  compiledRowMapper(
    db
      .select({ ...keyColumns, ...versionedJourneyColumns })
      .from(apiKeys)
      .leftJoin(journeys, and(eq(journeys.orgId, apiKeys.orgId), eq(journeys.slug, sql.placeholder("slug"))))
      .leftJoin(journeySteps, stepsOfJourneyJoin)
      .where(eq(apiKeys.hash, sql.placeholder("hash")))
      .orderBy(asc(journeySteps.index))
      .prepare("key_and_journey_for_retrieve"),
  ),
);

export async function verifyKeyForRetrieve(
  db: Database,
  presented: string,
  slug: string,
): Promise<VerifiedKey & { retrieved: RetrieveLookup }> {
  const digest = hashKey(presented);
  const rows = await keyAndJourney(db).execute({ hash: digest, slug });
  const verified = verifiedKeyRow(rows[0], digest);
  return { ...verified, retrieved: { slug, found: versionedJourneyFromRows(rows) } };
}
