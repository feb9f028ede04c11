import { journeys, newId, pgErrorCode, snapshots } from "@odyssey/db";
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import superjson, { type SuperJSONResult } from "superjson";
import type { z } from "zod";
import { loadJourneyAnalytics } from "../analytics/load";
import { advanceAnalyticsVersion } from "../analytics/version";
import type { OrgContext } from "../context";
import { journeyNotFound } from "../errors";
import { findJourney } from "../journeys/operations";
import { cursorReader, encodeCursor, type PageQuery } from "../paging";
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

const readCursor = cursorReader("snap", "journey");

/**
 * The most a page of snapshots weighs, as JSON, unless its first snapshot alone weighs more. A
 * snapshot holds a whole journey (up to 200 steps) and its analytics: a page of 100 large ones
 * would be hundreds of megabytes to read, hold and send in one answer, or more than one string
 * can hold. A heavy page ends early; its cursor carries on from there.
 */
const SNAPSHOT_PAGE_BYTES = 8 * 1024 * 1024;

/**
 * Newest first, by keyset on (created_at, seq) within the journey, so pages stay stable while
 * snapshots are taken (the cursor names its row by id; its seq is read with the page). At most `limit` snapshots and, past the first, at most
 * SNAPSHOT_PAGE_BYTES of them: their sizes are read first, and only the page's rows after.
 */
export async function listSnapshots({
  ctx,
  input,
}: Op<{ slug: string } & z.output<typeof PageQuery>>): Promise<SnapshotList> {
  const after = input.cursor === undefined ? undefined : readCursor(input.cursor);
  const [journey] = await ctx.db
    .select({ id: journeys.id })
    .from(journeys)
    .where(and(eq(journeys.orgId, ctx.orgId), eq(journeys.slug, input.slug)));
  if (!journey) throw journeyNotFound(input.slug);
  const ofJourney = and(eq(snapshots.orgId, ctx.orgId), eq(snapshots.journeyId, journey.id));
  const newestFirst = [desc(snapshots.createdAt), desc(snapshots.seq)];
  // A row comparison, so that the position is a bound of the index scan, not a filter on it. A
  // cursor naming no snapshot of the journey (snapshots go only with their journey, so only a
  // made-up one) pages on from its time alone.
  const candidates = await ctx.db
    .select({ id: snapshots.id, createdAt: snapshots.createdAt, jsonBytes: snapshots.jsonBytes })
    .from(snapshots)
    .where(
      and(
        ofJourney,
        after
          ? sql`(${snapshots.createdAt}, ${snapshots.seq}) < (${sql.param(after.createdAt, snapshots.createdAt)}::timestamptz,
              (select ${snapshots.seq} from ${snapshots} where ${snapshots.orgId} = ${ctx.orgId} and ${snapshots.id} = ${after.id}))`
          : undefined,
      ),
    )
    .orderBy(...newestFirst)
    .limit(input.limit + 1);
  let bytes = 0;
  let kept = 0;
  for (const candidate of candidates.slice(0, input.limit)) {
    bytes += candidate.jsonBytes;
    if (kept > 0 && bytes > SNAPSHOT_PAGE_BYTES) break;
    kept++;
  }
  const page = candidates.slice(0, kept);
  const rows =
    page.length === 0
      ? []
      : await ctx.db
          .select({
            id: snapshots.id,
            journeyId: snapshots.journeyId,
            createdAt: snapshots.createdAt,
            configuration: snapshots.configuration,
            analytics: snapshots.analytics,
          })
          .from(snapshots)
          .where(
            and(
              ofJourney,
              inArray(
                snapshots.id,
                page.map((p) => p.id),
              ),
            ),
          )
          .orderBy(...newestFirst);
  const last = page.at(-1);
  return {
    data: rows.map((row) => ({
      id: row.id,
      journeyId: row.journeyId,
      createdAt: row.createdAt,
      configuration: superjson.deserialize(row.configuration as SuperJSONResult),
      analytics: superjson.deserialize(row.analytics as SuperJSONResult),
    })),
    nextCursor: candidates.length > kept && last ? encodeCursor(last) : null,
  };
}
