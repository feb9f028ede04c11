CREATE TABLE "api_keys" (
	"org_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text,
	"kind" text NOT NULL,
	"display_prefix" text NOT NULL,
	"hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	CONSTRAINT "api_keys_org_id_id_pk" PRIMARY KEY("org_id","id"),
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "journey_steps" (
	"org_id" text NOT NULL,
	"id" text NOT NULL,
	"journey_id" text NOT NULL,
	"step_key" text NOT NULL,
	"index" integer NOT NULL,
	"name" text,
	"step_type" text,
	"reading_level" double precision,
	"field_count" integer,
	"required_artifacts" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "journey_steps_org_id_id_pk" PRIMARY KEY("org_id","id"),
	CONSTRAINT "journey_steps_key_unique" UNIQUE("org_id","journey_id","step_key"),
	CONSTRAINT "journey_steps_index_unique" UNIQUE("org_id","journey_id","index")
);
--> statement-breakpoint
CREATE TABLE "journeys" (
	"org_id" text NOT NULL,
	"id" text NOT NULL,
	"slug" text NOT NULL,
	"display_name" text NOT NULL,
	"source_system" text NOT NULL,
	"environment" text NOT NULL,
	"allowed_origins" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "journeys_org_id_id_pk" PRIMARY KEY("org_id","id"),
	CONSTRAINT "journeys_org_slug_unique" UNIQUE("org_id","slug")
);
--> statement-breakpoint
CREATE TABLE "organizations" (
	"id" text PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organizations_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey_steps" ADD CONSTRAINT "journey_steps_journey_fk" FOREIGN KEY ("org_id","journey_id") REFERENCES "public"."journeys"("org_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journeys" ADD CONSTRAINT "journeys_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "journeys_org_created_idx" ON "journeys" USING btree ("org_id","created_at","id");