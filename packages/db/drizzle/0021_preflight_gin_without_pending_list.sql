DROP INDEX "journeys_allowed_origins_idx";--> statement-breakpoint
CREATE INDEX "journeys_allowed_origins_idx" ON "journeys" USING gin ("allowed_origins") WITH (fastupdate=false);