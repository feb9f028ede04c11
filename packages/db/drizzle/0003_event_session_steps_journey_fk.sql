ALTER TABLE "event_session_steps" DROP CONSTRAINT "event_session_steps_session_fk";
--> statement-breakpoint
ALTER TABLE "event_session_steps" ADD CONSTRAINT "event_session_steps_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;