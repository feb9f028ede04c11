import { type Database, queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import { webOrigin } from "../origin";

/**
 * Whether some journey takes events from `origin` (an empty `allowedOrigins` takes every one).
 * A browser's CORS preflight names neither a journey nor a key, so it is answered for the origins
 * that any journey allows; the batch itself is then judged against its own journey's list. Lists
 * are stored as origins (`webOrigin`, and migration 0019 for rows stored before), so an exact
 * match answers, through an index on each side of the `or`, however many journeys there are.
 */
export async function originAllowedByAnyJourney(db: Database, origin: string): Promise<boolean> {
  const normal = webOrigin(origin);
  if (normal === null) return false;
  const [row] = await queryRows<{ allowed: boolean }>(db, anyJourneyAllows(normal));
  return row?.allowed === true;
}

/** The lookup of `originAllowedByAnyJourney`, for an origin already in its stored form. */
export const anyJourneyAllows = (normal: string) =>
  // A count rather than `exists` for the second: a planner expecting an early match would read
  // the journeys in order instead of the index, and most origins asked are in no list.
  sql`select
    exists (select 1 from journeys where cardinality(allowed_origins) = 0)
    or (select count(*) from journeys where allowed_origins @> array[${normal}]::text[]) > 0 as allowed`;
