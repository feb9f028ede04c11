import { type Database, queryRows } from "@odyssey/db";
import { sql } from "drizzle-orm";
import { webOrigin } from "../origin";

/**
 * Whether some journey takes events from `origin` (an empty `allowedOrigins` takes every one).
 * A browser's CORS preflight names neither a journey nor a key, so it is answered for the origins
 * that any journey allows; the batch itself is then judged against its own journey's list. Lists
 * are stored as origins (`webOrigin`); the comparison also forgives the trailing slash and case
 * of rows stored before that was so, as ingestion does.
 */
export async function originAllowedByAnyJourney(db: Database, origin: string): Promise<boolean> {
  const normal = webOrigin(origin);
  if (normal === null) return false;
  const [row] = await queryRows<{ allowed: boolean }>(
    db,
    sql`select exists (
      select 1 from journeys j
      where cardinality(j.allowed_origins) = 0
        or ${normal} = any(j.allowed_origins)
        or exists (select 1 from unnest(j.allowed_origins) o where lower(rtrim(o, '/')) = ${normal})
    ) as allowed`,
  );
  return row?.allowed === true;
}
