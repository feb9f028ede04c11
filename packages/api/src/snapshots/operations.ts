import { journeys, newId, pgErrorCode, snapshots } from "@odyssey/db";
import { and, desc, eq } from "drizzle-orm";
import superjson, { type SuperJSONResult } from "superjson";
import { advanceAnalyticsVersion } from "../analytics/cache";
import { loadJourneyAnalytics } from "../analytics/load";
import type { OrgContext } from "../context";
import { journeyNotFound } from "../errors";
import { findJourney } from "../journeys/operations";
import type { Snapshot, SnapshotList } from "./schema";

type Op<I> = { ctx: OrgContext; input: I };

/** Freezes the journey's configuration and its analytics as Retrieve answers them now. */
export async function createSnapshot({ ctx, input }: Op<{ slug: string }>): Promise<Snapshot> {
  const configuration = await findJourney({ ctx, input });
  const analytics = await loadJourneyAnalytics({ ctx, journey: configuration });
  const snapshot: Snapshot = {
    id: newId("snap"),
    journeyId: configuration.id,
    createdAt: ctx.now ?? new Date(),
    configuration,
    analytics,
  };
  try {
    await ctx.db.transaction(async (tx) => {
      await tx.insert(snapshots).values({
        orgId: ctx.orgId,
        id: snapshot.id,
        journeyId: snapshot.journeyId,
        createdAt: snapshot.createdAt,
        // superjson keeps the dates dates when the snapshot is read back.
        configuration: superjson.serialize(configuration),
        analytics: superjson.serialize(analytics),
      });
      // Retrieve's hasSnapshot and lastArtifactCreated follow it.
      await advanceAnalyticsVersion(tx, ctx.orgId, snapshot.journeyId);
    });
  } catch (error) {
    // The journey was deleted since it was read.
    if (pgErrorCode(error).code === "23503") throw journeyNotFound(input.slug);
    throw error;
  }
  return snapshot;
}

export async function listSnapshots({ ctx, input }: Op<{ slug: string }>): Promise<SnapshotList> {
  const [journey] = await ctx.db
    .select({ id: journeys.id })
    .from(journeys)
    .where(and(eq(journeys.orgId, ctx.orgId), eq(journeys.slug, input.slug)));
  if (!journey) throw journeyNotFound(input.slug);
  const rows = await ctx.db
    .select()
    .from(snapshots)
    .where(and(eq(snapshots.orgId, ctx.orgId), eq(snapshots.journeyId, journey.id)))
    .orderBy(desc(snapshots.createdAt), desc(snapshots.id));
  return {
    data: rows.map((row) => ({
      id: row.id,
      journeyId: row.journeyId,
      createdAt: row.createdAt,
      configuration: superjson.deserialize(row.configuration as SuperJSONResult),
      analytics: superjson.deserialize(row.analytics as SuperJSONResult),
    })),
  };
}
