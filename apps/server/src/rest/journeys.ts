import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  CreateJourneyInput,
  DeletedJourney,
  Journey,
  JourneyChanges,
  JourneyDetail,
  JourneyList,
  ListJourneysQuery,
} from "@odyssey/api";
import type { Caller, RestEnv } from "./context";
import { compressedBodyRefused, errorResponses, validationHook } from "./errors";
import { bodyRequired, json, jsonBody, SlugParam } from "./route-parts";
import { bearerWithScopeOf } from "./security";
import { wire } from "./wire";

const JourneyJson = wire(Journey);
const JourneyDetailJson = wire(JourneyDetail);
const JourneyListJson = wire(JourneyList);

const IdempotencyHeader = z.object({
  "idempotency-key": z.string().optional().openapi({
    description:
      "Makes retries safe: a retry with the same key and body replays the first answer; the same key with another body is 422; while the first request runs, 409. 1 to 255 printable ASCII characters without spaces (else 400).",
    example: "6f1c2d4e-create-grant",
    // What the operation checks (400 otherwise); the header is read as any text here.
    minLength: 1,
    maxLength: 255,
    pattern: "^[!-~]+$",
  }),
});

// Declared before `/{slug}`: Hono matches in declaration order.
const create = createRoute({
  method: "post",
  path: "/api/journeys/create",
  operationId: "createJourney",
  tags: ["Journeys"],
  summary: "Create a journey",
  security: bearerWithScopeOf("journeys.create"),
  middleware: [bodyRequired("journey")],
  request: {
    headers: IdempotencyHeader,
    body: jsonBody(CreateJourneyInput.meta({ id: "CreateJourneyInput" })),
  },
  responses: {
    201: json(
      JourneyJson,
      "The journey with its steps (or, for a retried Idempotency-Key, the first answer again).",
    ),
    ...errorResponses([400, 401, 403, 409, 415, 422, 500, 503]),
  },
});

const retrieve = createRoute({
  method: "get",
  path: "/api/journeys/{slug}",
  operationId: "getJourney",
  tags: ["Journeys"],
  summary: "Retrieve a journey",
  security: bearerWithScopeOf("journeys.get"),
  request: { params: SlugParam },
  responses: {
    200: json(JourneyDetailJson, "The journey with its steps and analytics."),
    ...errorResponses([400, 401, 403, 404, 500, 503], { 415: compressedBodyRefused }),
  },
});

const update = createRoute({
  method: "put",
  path: "/api/journeys/{slug}",
  operationId: "updateJourney",
  tags: ["Journeys"],
  summary: "Update a journey",
  security: bearerWithScopeOf("journeys.update"),
  middleware: [bodyRequired("journey")],
  request: { params: SlugParam, body: jsonBody(JourneyChanges.meta({ id: "JourneyChanges" })) },
  responses: {
    200: json(JourneyJson, "The updated journey."),
    ...errorResponses([400, 401, 403, 404, 415, 500, 503]),
  },
});

const list = createRoute({
  method: "get",
  path: "/api/journeys",
  operationId: "listJourneys",
  tags: ["Journeys"],
  summary: "List journeys, newest first",
  security: bearerWithScopeOf("journeys.list"),
  request: { query: ListJourneysQuery },
  responses: {
    200: json(JourneyListJson, "A page of journeys and the cursor of the next page (null on the last)."),
    ...errorResponses([400, 401, 403, 500, 503], { 415: compressedBodyRefused }),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/api/journeys/{slug}",
  operationId: "deleteJourney",
  tags: ["Journeys"],
  summary: "Delete a journey, its steps and its analytics",
  security: bearerWithScopeOf("journeys.delete"),
  request: { params: SlugParam },
  responses: {
    200: json(wire(DeletedJourney), "The journey was deleted."),
    ...errorResponses([400, 401, 403, 404, 415, 500, 503]),
  },
});

/** Thin: each route hands its validated input to the matching tRPC procedure. */
export function journeyRoutes() {
  const caller = (c: { get(key: "caller"): Caller }) => c.get("caller");
  return new OpenAPIHono<RestEnv>({ defaultHook: validationHook("journey") })
    .openapi(create, async (c) => c.json(await caller(c).journeys.create(c.req.valid("json")), 201))
    .openapi(retrieve, async (c) => c.json(await caller(c).journeys.get(c.req.valid("param")), 200))
    .openapi(update, async (c) =>
      c.json(await caller(c).journeys.update({ ...c.req.valid("json"), ...c.req.valid("param") }), 200),
    )
    .openapi(list, async (c) => c.json(await caller(c).journeys.list(c.req.valid("query")), 200))
    .openapi(remove, async (c) => c.json(await caller(c).journeys.delete(c.req.valid("param")), 200));
}
