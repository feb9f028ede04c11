DROP INDEX "events_occurred_at_brin";--> statement-breakpoint
ALTER TABLE "event_ids" DROP COLUMN "occurred_at";