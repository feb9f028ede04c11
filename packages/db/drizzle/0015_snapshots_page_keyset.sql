DROP INDEX "snapshots_journey_created_idx";--> statement-breakpoint
ALTER TABLE "snapshots" ADD COLUMN "json_bytes" integer GENERATED ALWAYS AS (octet_length(configuration::text) + octet_length(analytics::text)) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "snapshots_journey_created_idx" ON "snapshots" USING btree ("org_id","journey_id","created_at","id");