ALTER TABLE "event_ids" DROP CONSTRAINT "event_ids_org_id_journey_id_id_pk";--> statement-breakpoint
ALTER TABLE "event_ids" ADD CONSTRAINT "event_ids_pk" PRIMARY KEY("id","org_id","journey_id");