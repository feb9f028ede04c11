ALTER TABLE "event_hours" ADD COLUMN "shard" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "event_sessions" ADD COLUMN "viewed_step_indexes" integer[] DEFAULT '{}'::integer[] NOT NULL;--> statement-breakpoint
ALTER TABLE "event_step_keys" ADD COLUMN "shard" smallint DEFAULT 0 NOT NULL;