import { createApiKey, createCaller } from "@odyssey/api";
import { createDatabase } from "@odyssey/db";
import { stepsOf } from "../load/bodies";
import { progressBar } from "./progress";

export interface Seeded {
  key: string;
  /** The journey Retrieve reads. */
  retrieveSlug: string;
  /** PUT rotates over `${updatePrefix}-0` … `${updatePrefix}-${updateCount - 1}`. */
  updatePrefix: string;
  updateCount: number;
}

export interface SeedSize {
  updateJourneys: number;
}

/**
 * Migrates the bench database and seeds it through the same operations the API runs, so the
 * rows are exactly what the server itself would have written.
 */
export async function seed(url: string, size: SeedSize): Promise<Seeded> {
  const database = createDatabase({ url, maxConnections: 4 });
  try {
    await database.migrate();
    const { key } = await createApiKey(database.db, { orgSlug: "bench", kind: "secret", name: "bench" });
    const caller = createCaller({ db: database.db, authorization: `Bearer ${key}` });
    const journey = (slug: string) =>
      caller.journeys.create({
        slug,
        displayName: `Benchmark ${slug}`,
        sourceSystem: "custom",
        steps: stepsOf(10),
      });

    const retrieveSlug = "bench-retrieve";
    await journey(retrieveSlug);

    const updatePrefix = "bench-update";
    const progress = progressBar("journeys for PUT", size.updateJourneys);
    for (let i = 0; i < size.updateJourneys; i++) {
      await journey(`${updatePrefix}-${i}`);
      progress(i + 1);
    }
    return { key, retrieveSlug, updatePrefix, updateCount: size.updateJourneys };
  } finally {
    await database.close();
  }
}
