import { z } from "zod";
import { JourneyAnalytics } from "../analytics/schema";
import { webOrigin } from "../origin";
import { PageQuery } from "../paging";
import { controlCharacterProblem, text } from "../text";

// The single source of the journey types: tRPC, REST, OpenAPI and the client all derive from these.

export const slugPattern = /^[a-z0-9-]+$/;

export const Slug = z
  .string()
  .min(1)
  .max(100)
  .regex(slugPattern, { error: "must contain only lowercase letters, numbers, and hyphens" });

export const SourceSystem = z.enum(["simpliGov", "custom", "unknown"]);
export const Environment = z.enum(["production", "staging"]);

/**
 * `scheme://host[:port]`, stored as browsers send it in the Origin header: `HTTPS://App.Example.com:443/`
 * is kept as `https://app.example.com`, an international domain name in its ASCII form.
 */
export const Origin = z
  .string()
  .max(2048)
  .transform((value, ctx) => {
    // URL parsing drops control characters (NUL, tab, line breaks) unseen: they are refused
    // instead, as every other text field refuses NUL.
    const control = controlCharacterProblem(value);
    if (control !== undefined) {
      ctx.addIssue({ code: "custom", message: control });
      return value;
    }
    const origin = webOrigin(value);
    if (origin === null)
      ctx.addIssue({
        code: "custom",
        message:
          "must be an origin URL such as https://app.example.com (scheme, host and optional port only)",
      });
    // The stored form is the one bounded: an international domain name grows in its ASCII form.
    else if (origin.length > 2048)
      ctx.addIssue({
        code: "custom",
        message: "must be at most 2048 characters once its domain name is in ASCII (punycode) form",
      });
    return origin ?? value;
  })
  // For the OpenAPI document, what every accepted origin matches (an http or https scheme, no
  // query or fragment); the rest is said in words: URL parsing forgives spaces, dot segments
  // and an empty user name, which a stricter pattern would wrongly refuse.
  .meta({
    description:
      "An origin URL, `scheme://host[:port]`: http or https, no path, query, fragment, credentials or control characters (e.g. https://app.example.com). Stored as browsers send it in the Origin header: lower-case, without a default port.",
    pattern: "^\\s*[Hh][Tt][Tt][Pp][Ss]?:[^?#]*$",
  });

/** Each origin once, in the order given. */
const AllowedOrigins = z
  .array(Origin)
  .max(100)
  .transform((origins) => [...new Set(origins)]);

export const StepInput = z.object({
  stepKey: text().min(1).max(100).meta({ description: "Unique within the journey." }),
  index: z.int().min(0).max(10_000).meta({ description: "Unique within the journey." }),
  name: text().max(255).nullish(),
  stepType: text().max(100).nullish(),
  readingLevel: z.number().min(0).max(100).nullish(),
  fieldCount: z.int().min(0).max(100_000).nullish(),
  requiredArtifacts: z.array(text().min(1).max(255)).max(100).optional(),
});

/**
 * At most 255 characters as sent (the bound the OpenAPI document's `maxLength` states), then
 * trimmed; a blank name is refused ("must not be empty").
 */
const DisplayName = text().max(255).trim().min(1).meta({
  description: "1 to 255 characters, not blank; spaces around the name are removed.",
  pattern: "\\S",
});

/** The refinement below, which JSON Schema cannot say, described for the OpenAPI document. */
const Steps = z.array(StepInput).max(200).meta({
  description:
    "The journey's steps. Each `stepKey` and each `index` may appear once: a repeat is refused (400).",
});

export const CreateJourneyInput = z
  .object({
    slug: Slug,
    displayName: DisplayName,
    sourceSystem: SourceSystem.default("unknown"),
    environment: Environment.default("production"),
    allowedOrigins: AllowedOrigins.default([]),
    steps: Steps.default([]),
  })
  .superRefine((journey, ctx) => {
    const keys = new Set<string>();
    const indexes = new Set<number>();
    journey.steps.forEach((step, i) => {
      if (keys.has(step.stepKey))
        ctx.addIssue({
          code: "custom",
          path: ["steps", i, "stepKey"],
          message: "must be unique within the journey",
        });
      if (indexes.has(step.index))
        ctx.addIssue({
          code: "custom",
          path: ["steps", i, "index"],
          message: "must be unique within the journey",
        });
      keys.add(step.stepKey);
      indexes.add(step.index);
    });
  });

const changeFields = {
  displayName: DisplayName.optional(),
  environment: Environment.optional(),
  sourceSystem: SourceSystem.optional(),
  allowedOrigins: AllowedOrigins.optional(),
};

/**
 * An update names at least one field it changes: one that names none (a misspelt
 * `displayname`, or only fields an update cannot change, such as `steps`) would change nothing
 * and answer 200 as if it had. Other fields are ignored, so a journey read, edited and sent
 * back whole is accepted.
 */
const namesAChange = <T extends Record<string, unknown>>(input: T) =>
  Object.keys(changeFields).some((field) => input[field] !== undefined);
const noChange = {
  error: `must carry at least one of: ${Object.keys(changeFields).join(", ")}`,
};

export const JourneyChanges = z
  .object(changeFields)
  .refine(namesAChange, noChange)
  // The refinement, as JSON Schema says it, for the OpenAPI document. Inside `allOf`, so that types
  // generated from the document (openapi-typescript) keep the object's fields.
  .meta({
    description: `Names at least one of ${Object.keys(changeFields).join(", ")}; other fields are ignored.`,
    allOf: [{ anyOf: Object.keys(changeFields).map((field) => ({ required: [field] })) }],
  });

/**
 * A slug that names an existing journey: any text may be asked for, and simply not be found (its
 * length is bounded by the URL and JSON string limits), as every slug past 100 characters is.
 */
export const SlugRef = z.object({ slug: text().min(1) });

export const UpdateJourneyInput = SlugRef.extend(changeFields).refine(namesAChange, noChange);

/** Page size and position (`paging.ts`, as every list pages). */
export const ListJourneysQuery = PageQuery;
export const ListJourneysInput = ListJourneysQuery.default({ limit: 20 });

export const Step = z.object({
  id: z.string(),
  journeyId: z.string(),
  stepKey: z.string(),
  name: z.string().nullable(),
  stepType: z.string().nullable(),
  index: z.int(),
  readingLevel: z.number().nullable(),
  fieldCount: z.int().nullable(),
  requiredArtifacts: z.array(z.string()),
  createdAt: z.date(),
  updatedAt: z.date(),
});

export const Journey = z.object({
  id: z.string(),
  orgId: z.string(),
  slug: z.string(),
  displayName: z.string(),
  sourceSystem: SourceSystem,
  environment: Environment,
  allowedOrigins: z.array(z.string()),
  steps: z.array(Step),
  createdAt: z.date(),
  updatedAt: z.date(),
});

export const JourneyList = z.object({
  data: z.array(Journey),
  nextCursor: z.string().nullable(),
});

export const DeletedJourney = z.object({
  id: z.string(),
  slug: z.string(),
  deleted: z.literal(true),
});

export type StepInput = z.infer<typeof StepInput>;
export type CreateJourneyInput = z.input<typeof CreateJourneyInput>;
export type UpdateJourneyInput = z.infer<typeof UpdateJourneyInput>;
export type Step = z.infer<typeof Step>;
export type Journey = z.infer<typeof Journey>;
export type JourneyList = z.infer<typeof JourneyList>;

/** What Retrieve answers: the journey and its analytics. */
export const JourneyDetail = Journey.extend(JourneyAnalytics.shape);
export type JourneyDetail = z.infer<typeof JourneyDetail>;
