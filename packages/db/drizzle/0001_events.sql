CREATE TABLE "event_hours" (
	"org_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"hour" timestamp (3) with time zone NOT NULL,
	"type" text NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "event_hours_org_id_journey_id_hour_type_pk" PRIMARY KEY("org_id","journey_id","hour","type")
);
--> statement-breakpoint
CREATE TABLE "event_ids" (
	"org_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"id" text NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "event_ids_org_id_journey_id_id_pk" PRIMARY KEY("org_id","journey_id","id")
);
--> statement-breakpoint
CREATE TABLE "event_session_steps" (
	"org_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"session_id" text NOT NULL,
	"step_index" integer NOT NULL,
	CONSTRAINT "event_session_steps_org_id_journey_id_session_id_step_index_pk" PRIMARY KEY("org_id","journey_id","session_id","step_index")
);
--> statement-breakpoint
CREATE TABLE "event_sessions" (
	"org_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"session_id" text NOT NULL,
	"first_start_at" timestamp (3) with time zone,
	"first_event_at" timestamp (3) with time zone NOT NULL,
	"entry_at" timestamp (3) with time zone GENERATED ALWAYS AS (coalesce(first_start_at, first_event_at)) STORED NOT NULL,
	"last_event_at" timestamp (3) with time zone NOT NULL,
	"device" text,
	"device_at" timestamp (3) with time zone,
	"device_event_id" text,
	"furthest_step_index" integer,
	"first_success_at" timestamp (3) with time zone,
	CONSTRAINT "event_sessions_org_id_journey_id_session_id_pk" PRIMARY KEY("org_id","journey_id","session_id")
);
--> statement-breakpoint
CREATE TABLE "event_step_keys" (
	"org_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"step_key" text NOT NULL,
	"last_seen_at" timestamp (3) with time zone NOT NULL,
	"event_count" integer NOT NULL,
	CONSTRAINT "event_step_keys_org_id_journey_id_step_key_pk" PRIMARY KEY("org_id","journey_id","step_key")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"org_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"id" text NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	"client_time" timestamp (3) with time zone NOT NULL,
	"type" text NOT NULL,
	"session_id" text NOT NULL,
	"step_key" text,
	"field" text,
	"device" text,
	CONSTRAINT "events_org_id_journey_id_occurred_at_id_pk" PRIMARY KEY("org_id","journey_id","occurred_at","id")
);
--> statement-breakpoint
CREATE TABLE "snapshots" (
	"org_id" text NOT NULL,
	"id" text NOT NULL,
	"journey_id" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"configuration" jsonb NOT NULL,
	"analytics" jsonb NOT NULL,
	CONSTRAINT "snapshots_org_id_id_pk" PRIMARY KEY("org_id","id")
);
--> statement-breakpoint
ALTER TABLE "event_hours" ADD CONSTRAINT "event_hours_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_ids" ADD CONSTRAINT "event_ids_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_session_steps" ADD CONSTRAINT "event_session_steps_session_fk" FOREIGN KEY ("org_id","journey_id","session_id") REFERENCES "public"."event_sessions"("org_id","journey_id","session_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_sessions" ADD CONSTRAINT "event_sessions_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_step_keys" ADD CONSTRAINT "event_step_keys_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "snapshots" ADD CONSTRAINT "snapshots_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "event_sessions_entry_idx" ON "event_sessions" USING btree ("org_id","journey_id","entry_at");--> statement-breakpoint
CREATE INDEX "snapshots_journey_created_idx" ON "snapshots" USING btree ("org_id","journey_id","created_at");