ALTER TABLE "event_session_steps" DISABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP TABLE "event_session_steps" CASCADE;--> statement-breakpoint
ALTER TABLE "event_hours" DROP CONSTRAINT "event_hours_org_id_journey_id_hour_type_pk";--> statement-breakpoint
ALTER TABLE "event_step_keys" DROP CONSTRAINT "event_step_keys_org_id_journey_id_step_key_pk";--> statement-breakpoint
ALTER TABLE "event_hours" ADD CONSTRAINT "event_hours_org_id_journey_id_hour_type_shard_pk" PRIMARY KEY("org_id","journey_id","hour","type","shard");--> statement-breakpoint
ALTER TABLE "event_step_keys" ADD CONSTRAINT "event_step_keys_org_id_journey_id_step_key_shard_pk" PRIMARY KEY("org_id","journey_id","step_key","shard");