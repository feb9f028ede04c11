CREATE TABLE "event_hour_counts" (
	"org_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"hour" timestamp (3) with time zone NOT NULL,
	"shard" smallint DEFAULT 0 NOT NULL,
	"session_start" integer DEFAULT 0 NOT NULL,
	"step_view" integer DEFAULT 0 NOT NULL,
	"field_focus" integer DEFAULT 0 NOT NULL,
	"field_error" integer DEFAULT 0 NOT NULL,
	"submit_attempt" integer DEFAULT 0 NOT NULL,
	"submit_success" integer DEFAULT 0 NOT NULL,
	"submit_failure" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "event_hour_counts_org_id_journey_id_hour_shard_pk" PRIMARY KEY("org_id","journey_id","hour","shard")
);
--> statement-breakpoint
ALTER TABLE "event_hour_counts" ADD CONSTRAINT "event_hour_counts_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- The counts move from one row per hour and type (event_hours) to one row per hour.
INSERT INTO "event_hour_counts" ("org_id", "journey_id", "hour", "shard", "session_start", "step_view",
  "field_focus", "field_error", "submit_attempt", "submit_success", "submit_failure")
SELECT "org_id", "journey_id", "hour", "shard",
  coalesce(sum("count") FILTER (WHERE "type" = 'session_start'), 0),
  coalesce(sum("count") FILTER (WHERE "type" = 'step_view'), 0),
  coalesce(sum("count") FILTER (WHERE "type" = 'field_focus'), 0),
  coalesce(sum("count") FILTER (WHERE "type" = 'field_error'), 0),
  coalesce(sum("count") FILTER (WHERE "type" = 'submit_attempt'), 0),
  coalesce(sum("count") FILTER (WHERE "type" = 'submit_success'), 0),
  coalesce(sum("count") FILTER (WHERE "type" = 'submit_failure'), 0)
FROM "event_hours"
GROUP BY "org_id", "journey_id", "hour", "shard";
