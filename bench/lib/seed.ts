import { createApiKey, createCaller } from "@odyssey/api";
import { createDatabase, type Database, queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { stepsOf } from "../load/bodies";
import { events } from "./events";
import { progressBar } from "./progress";

export interface Seeded {
  key: string;
  orgId: string;
  /** The journey POST /api/events writes to. */
  ingestSlug: string;
  /** The journey Retrieve reads. */
  retrieveSlug: string;
  /** PUT rotates over `${updatePrefix}-0` … `${updatePrefix}-${updateCount - 1}`. */
  updatePrefix: string;
  updateCount: number;
  retrieveEvents: number;
}

export interface SeedSize {
  updateJourneys: number;
  /** Events on the Retrieve journey, in sessions of 10, every session in the 30-day window. */
  retrieveEvents: number;
}

/**
 * Migrates the bench database and seeds it through the same operations the API runs, so the
 * rows are exactly what the server itself would have written.
 */
export async function seed(url: string, size: SeedSize): Promise<Seeded> {
  const database = createDatabase({ url, maxConnections: 4 });
  try {
    await database.migrate();
    const { key, orgId } = await createApiKey(database.db, {
      orgSlug: "bench",
      kind: "secret",
      name: "bench",
    });
    const caller = createCaller({ db: database.db, authorization: `Bearer ${key}` });
    const journey = (slug: string) =>
      caller.journeys.create({
        slug,
        displayName: `Benchmark ${slug}`,
        sourceSystem: "custom",
        steps: stepsOf(10),
      });

    const retrieveSlug = "bench-retrieve";
    const retrieve = await journey(retrieveSlug);
    const ingestSlug = "bench-ingest";
    await journey(ingestSlug);
    await ingestHistory(
      database.db,
      caller,
      retrieveSlug,
      size.retrieveEvents,
      retrieve.steps.map((s) => s.stepKey),
    );

    const updatePrefix = "bench-update";
    const progress = progressBar("journeys for PUT", size.updateJourneys);
    for (let i = 0; i < size.updateJourneys; i++) {
      await journey(`${updatePrefix}-${i}`);
      progress(i + 1);
    }
    const maintenance = postgres(url, { max: 1, onnotice: () => {} });
    await maintenance`vacuum analyze`.finally(() => maintenance.end());
    return {
      key,
      orgId,
      ingestSlug,
      retrieveSlug,
      retrieveEvents: size.retrieveEvents,
      updatePrefix,
      updateCount: size.updateJourneys,
    };
  } finally {
    await database.close();
  }
}

const DAY = 86_400_000;
const BATCH = 500;

/**
 * Sends the events through the ingestion procedure itself (so every summary is what the server
 * would have built), a few batches at a time.
 */
async function ingestHistory(
  db: Database,
  caller: ReturnType<typeof createCaller>,
  journey: string,
  total: number,
  stepKeys: string[],
) {
  const analyze = () => queryRows(db, sql`analyze`);
  const now = Date.now();
  const from = now - 29 * DAY;
  const to = now - 2 * 3_600_000;
  const batches = Math.ceil(total / BATCH);
  const progress = progressBar(`${total.toLocaleString("en-US")} events`, total);
  let sent = 0;
  let batchNumber = 0;
  const sender = async () => {
    while (sent < total) {
      const size = Math.min(BATCH, total - sent);
      sent += size;
      // In time order, as traffic arrives: each batch's sessions start in its own slice of the
      // window, so a batch touches a few hours' summaries rather than all of them.
      const slice = batchNumber++;
      const sliceFrom = from + ((to - from) * slice) / batches;
      const sliceTo = from + ((to - from) * (slice + 1)) / batches;
      const batch = events(size, sliceFrom, sliceTo, `s${slice}`, stepKeys);
      const result = await caller.events.ingest({ journey, events: batch });
      if (result.rejected.length) throw new Error(`Seeding: ${JSON.stringify(result.rejected[0])}`);
      // Statistics, as autovacuum would gather them on a quieter server: never analyzed, the
      // summaries get plans (the session foreign key checked through the entry index) whose
      // cost grows with every session already stored.
      if (slice % 200 === 10) await analyze();
      progress(Math.min(total, sent));
    }
  };
  await Promise.all([sender(), sender(), sender()]);
}
