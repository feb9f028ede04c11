DROP TABLE "event_session_steps" CASCADE;--> statement-breakpoint
ALTER TABLE "event_sessions" ADD COLUMN "viewed_step_indexes" integer[] DEFAULT '{}'::integer[] NOT NULL;