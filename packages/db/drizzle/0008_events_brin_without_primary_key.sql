ALTER TABLE "events" DROP CONSTRAINT "events_org_id_journey_id_occurred_at_id_pk";--> statement-breakpoint
CREATE INDEX "events_occurred_at_brin" ON "events" USING brin ("occurred_at");