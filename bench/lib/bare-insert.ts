import type { Sql } from "postgres";
import type { BenchEvent } from "./events";

// The ingestion baseline of `pnpm bench:ingest` and `pnpm bench:statement`: the same rows as one
// UNNEST insert into a bare table (no key, no index, no summaries, no de-duplication).

/** The bare table's columns: those of `events`, without any constraint. */
export const bareEventsTable = `bare_events (org_id text, journey_id text, occurred_at timestamptz,
  id text, received_at timestamptz, client_time timestamptz, type text, session_id text,
  step_key text, field text, device text)`;

export async function createBareEventsTable(sql: Sql): Promise<void> {
  await sql.unsafe(`create table ${bareEventsTable}`);
}

/** One batch, as one statement. */
export async function insertBareEvents(
  sql: Sql,
  { orgId, journeyId, batch }: { orgId: string; journeyId: string; batch: BenchEvent[] },
): Promise<void> {
  const received = new Date().toISOString();
  await sql`insert into bare_events select * from unnest(
    ${sql.array(batch.map(() => orgId))}::text[], ${sql.array(batch.map(() => journeyId))}::text[],
    ${sql.array(batch.map((e) => e.timestamp))}::timestamptz[], ${sql.array(batch.map((e) => e.id))}::text[],
    ${sql.array(batch.map(() => received))}::timestamptz[], ${sql.array(batch.map((e) => e.timestamp))}::timestamptz[],
    ${sql.array(batch.map((e) => e.type))}::text[], ${sql.array(batch.map((e) => e.sessionId))}::text[],
    ${sql.array(batch.map((e) => e.stepKey ?? null))}::text[], ${sql.array(batch.map((e) => e.field ?? null))}::text[],
    ${sql.array(batch.map((e) => e.device ?? null))}::text[])`;
}
