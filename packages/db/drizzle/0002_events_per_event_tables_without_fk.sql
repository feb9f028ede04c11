ALTER TABLE "event_ids" DROP CONSTRAINT "event_ids_journey_fk";
--> statement-breakpoint
ALTER TABLE "events" DROP CONSTRAINT "events_journey_fk";
