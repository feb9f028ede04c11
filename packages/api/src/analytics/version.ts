import { analyticsVersions, type Queryable } from "@odyssey/db";
import { sql } from "drizzle-orm";

// A journey's analytics version moves on in the same transaction as every change to what its
// analytics read (a batch that stored events, a snapshot): the same version, the same stored data.

/** The SQL expression of a journey's analytics version (the sum of its shards), as text. */
export const analyticsVersionOf = (orgId: unknown, journeyId: unknown) =>
  sql<string>`(select coalesce(sum(${analyticsVersions.version}), 0)::text from ${analyticsVersions}
    where ${analyticsVersions.orgId} = ${orgId} and ${analyticsVersions.journeyId} = ${journeyId})`;

/** Moves a journey's analytics version on: call it in the transaction that changes an input. */
export async function advanceAnalyticsVersion(
  db: Queryable,
  orgId: string,
  journeyId: string,
): Promise<void> {
  await db
    .insert(analyticsVersions)
    .values({ orgId, journeyId, shard: 0, version: 1 })
    .onConflictDoUpdate({
      target: [analyticsVersions.orgId, analyticsVersions.journeyId, analyticsVersions.shard],
      set: { version: sql`${analyticsVersions.version} + 1` },
    });
}
