-- The steps each session viewed move from event_session_steps onto the session row.
UPDATE "event_sessions" s
SET "viewed_step_indexes" = v.indexes
FROM (
  SELECT "org_id", "journey_id", "session_id", array_agg("step_index" ORDER BY "step_index") AS indexes
  FROM "event_session_steps"
  GROUP BY "org_id", "journey_id", "session_id"
) v
WHERE s."org_id" = v."org_id" AND s."journey_id" = v."journey_id" AND s."session_id" = v."session_id";
