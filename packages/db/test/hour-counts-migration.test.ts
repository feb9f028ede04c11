import { describe, expect, it } from "vitest";
import { databaseBefore } from "./support/migrations";

// Migration 0010 moves the hour counts from one row per hour and type (event_hours) to one row per
// hour with a column per type (event_hour_counts). Applied to a database holding counts, it must
// keep every one of them.

describe("migration 0010: hour counts per type become columns", () => {
  const engine = databaseBefore("0009_event_ids_uuid");

  it("keeps every count, per journey, hour and shard", async () => {
    await engine.migrateBefore();
    await engine.query(`insert into organizations (id, slug, name) values ('org_m', 'm', 'M')`);
    await engine.query(`insert into journeys (org_id, id, slug, display_name, source_system, environment)
      values ('org_m', 'journey_a', 'a', 'A', 'custom', 'production'),
             ('org_m', 'journey_b', 'b', 'B', 'custom', 'production')`);
    await engine.query(`insert into event_hours (org_id, journey_id, hour, type, shard, count) values
      ('org_m', 'journey_a', '2026-11-20T10:00:00Z', 'session_start', 0, 3),
      ('org_m', 'journey_a', '2026-11-20T10:00:00Z', 'step_view', 0, 7),
      ('org_m', 'journey_a', '2026-11-20T10:00:00Z', 'submit_failure', 0, 1),
      ('org_m', 'journey_a', '2026-11-20T10:00:00Z', 'step_view', 4, 2),
      ('org_m', 'journey_a', '2026-11-20T11:00:00Z', 'submit_success', 0, 5),
      ('org_m', 'journey_b', '2026-11-20T10:00:00Z', 'field_error', 0, 9)`);

    await engine.migrateAll();

    const rows =
      await engine.query(`select journey_id, to_char(hour at time zone 'UTC', 'HH24') as hour, shard,
        session_start, step_view, field_focus, field_error, submit_attempt, submit_success, submit_failure
      from event_hour_counts order by journey_id, hour, shard`);
    const zero = { field_focus: 0, field_error: 0, session_start: 0, step_view: 0, submit_attempt: 0 };
    expect(rows).toEqual([
      {
        journey_id: "journey_a",
        hour: "10",
        shard: 0,
        ...zero,
        session_start: 3,
        step_view: 7,
        submit_success: 0,
        submit_failure: 1,
      },
      {
        journey_id: "journey_a",
        hour: "10",
        shard: 4,
        ...zero,
        step_view: 2,
        submit_success: 0,
        submit_failure: 0,
      },
      { journey_id: "journey_a", hour: "11", shard: 0, ...zero, submit_success: 5, submit_failure: 0 },
      {
        journey_id: "journey_b",
        hour: "10",
        shard: 0,
        ...zero,
        field_error: 9,
        submit_success: 0,
        submit_failure: 0,
      },
    ]);
    const tables = await engine.query(
      `select table_name from information_schema.tables where table_name = 'event_hours'`,
    );
    expect(tables).toEqual([]);
  });
});
