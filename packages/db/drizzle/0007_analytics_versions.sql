CREATE TABLE "analytics_versions" (
	"org_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"shard" smallint NOT NULL,
	"version" bigint NOT NULL,
	CONSTRAINT "analytics_versions_org_id_journey_id_shard_pk" PRIMARY KEY("org_id","journey_id","shard")
);
--> statement-breakpoint
ALTER TABLE "analytics_versions" ADD CONSTRAINT "analytics_versions_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;