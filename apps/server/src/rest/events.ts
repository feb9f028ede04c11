import type { OpenAPIHono } from "@hono/zod-openapi";
import {
  EventInput,
  IngestInput,
  IngestResult,
  knownTRPCError,
  MAX_BATCH_BYTES,
  MAX_EVENTS_PER_BATCH,
  malformedBodyMessage,
  originAllowedByAnyJourney,
} from "@odyssey/api";
import type { Database } from "@odyssey/db";
import type { MiddlewareHandler } from "hono";
import { exposedHeaders, preflightMaxAgeSeconds } from "../cors";
import { limitBody } from "../guards/body";
import { refuse } from "../guards/refuse";
import { requestHeader, setResponseHeader } from "../request-essentials";
import type { RestEnv } from "./context";
import { errorJson, errorResponses } from "./errors";
import { json } from "./route-parts";
import { bearerWithScopeOf } from "./security";
import { wire } from "./wire";

/** `application/json`, or `text/plain` as `navigator.sendBeacon` sends a string. */
export const eventBodyTypes = /^(application\/(.+\+)?json|text\/plain)\s*(;|$)/i;
export const notEventBodyMessage = "Content-Type must be application/json or text/plain";

/** The size of one request's events, on `/api/events` and on tRPC calls of `events.ingest`. */
export const eventsBodyLimit = limitBody({
  maxBytes: MAX_BATCH_BYTES,
  refuse: (c) =>
    refuse(c, 413, `An event batch may be at most ${MAX_BATCH_BYTES} bytes (512 KiB)`, {
      Connection: "close",
    }),
});

/**
 * CORS preflights of browsers sending events. A preflight carries neither body nor key, so it
 * cannot name the journey: it is answered for the origins some journey allows
 * (`originAllowedByAnyJourney`), and the journey's own `allowedOrigins` are enforced on the
 * request itself (`eventsAnswerCors` says which answers a page may read).
 */
export const eventsPreflight =
  (db: Database): MiddlewareHandler<RestEnv> =>
  async (c, next) => {
    if (c.req.method !== "OPTIONS") return next();
    const origin = requestHeader(c, "origin");
    // Headers go with the answer, not onto the context: once the deadline has answered a
    // slow lookup, the context holds a sent answer that takes no more headers.
    const allowed = origin ? await allowedByAnyJourney(db, origin) : false;
    return c.body(null, 204, {
      Vary: "Origin",
      Allow: "POST, OPTIONS",
      ...(allowed && {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "authorization, content-type",
        "Access-Control-Max-Age": String(preflightMaxAgeSeconds),
      }),
    });
  };

/** Refusals a page may read when its origin is one some journey allows (see eventsAnswerCors). */
const readableRefusals = new Set([400, 401, 404, 413, 415]);

/**
 * CORS on the answers to event batches. A 200, which only an origin the journey allows gets,
 * echoes the origin and exposes `Retry-After`, the `RateLimit-*` headers and the request id to
 * the page. So does a refusal of the batch itself (400, 401, 404, 413, 415) sent to an origin
 * some journey allows, as a preflight is answered (its journey may not be known yet): a page
 * can then read why, where a browser would otherwise report a CORS failure. A 403 (a disallowed
 * origin, or a key without the scope) carries no `Access-Control-Allow-Origin`, nor do a 429
 * and a 503: they come before the journey is read (a 503 mostly), and a lookup per refusal
 * would undo what they spare the database.
 */
export const eventsAnswerCors =
  (db: Database): MiddlewareHandler<RestEnv> =>
  async (c, next) => {
    if (c.req.method === "OPTIONS") return next();
    await next();
    setResponseHeader(c, "Vary", "Origin");
    const origin = requestHeader(c, "origin");
    if (!origin) return;
    const status = c.res.status;
    const readable = status === 200 || (readableRefusals.has(status) && (await readableBy(db, origin)));
    if (readable) {
      setResponseHeader(c, "Access-Control-Allow-Origin", origin);
      setResponseHeader(c, "Access-Control-Expose-Headers", exposedHeaders);
    }
  };

/** How long a refusal waits to learn whether its page may read it. */
const readableLookupMs = 1000;

/**
 * Whether some journey allows `origin`. A refusal is already made: a database that fails or
 * stalls (this runs outside the request deadline) only leaves it unreadable by the page.
 */
async function readableBy(db: Database, origin: string): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(resolve, readableLookupMs, false);
  });
  try {
    return await Promise.race([originAllowedByAnyJourney(db, origin).catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A lost database is answered 503 as on every route, not as the 500 of an unknown error. */
async function allowedByAnyJourney(db: Database, origin: string): Promise<boolean> {
  try {
    return await originAllowedByAnyJourney(db, origin);
  } catch (error) {
    throw knownTRPCError(error) ?? error;
  }
}

/** The batch as documented: each event's fields, which the operation checks one event at a time. */
const IngestBody = IngestInput.extend({ events: EventInput.array().max(MAX_EVENTS_PER_BATCH) }).openapi(
  "EventBatch",
);

/** POST /api/events: thin; the body is read here because beacons send it as text/plain. */
export function eventRoutes(app: OpenAPIHono<RestEnv>) {
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/api/events",
    operationId: "ingestEvents",
    tags: ["Events"],
    summary: "Send a batch of events",
    description:
      "At most 500 events and 512 KiB. Authenticate with a secret key (scope `events:write`) in " +
      '`Authorization: Bearer`, or with a publishable key (`ody_pk_…`): as `"key"` in the body, with no Authorization header (hence the empty security requirement), or in `Authorization: Bearer` where the sender can set headers. A JSON body sent as ' +
      "`text/plain` is accepted. Answers after the events are committed; invalid events are listed " +
      "by index in `rejected` and do not sink the batch. A browser's CORS preflight (`OPTIONS` " +
      "with `Origin`) is answered `204`, with `Access-Control-Allow-Origin` when some journey " +
      "allows that origin (it names no journey); each batch is judged against its own journey's " +
      "`allowedOrigins`. A `200` echoes the request's `Origin` in `Access-Control-Allow-Origin` and " +
      "exposes the `RateLimit-*` headers and `X-Request-Id` to the page " +
      "(`Access-Control-Expose-Headers`). So does a 400, 401, 404, 413 or 415 when some journey allows the Origin (a preflight's rule), so a page can read why; a 403, 429 or 503 carries no `Access-Control-Allow-Origin`. From a page, send the batch as a string (`navigator.sendBeacon(url, JSON.stringify(batch))`, `text/plain`, no preflight); browsers cap a beacon at 64 KiB.",
    // Or no header at all: a publishable key rides in the body (`"key"`), for beacons. An empty
    // requirement is how OpenAPI says a request may go without any of the declared schemes.
    security: [...bearerWithScopeOf("events.ingest"), {}],
    request: {
      body: {
        required: true,
        content: { "application/json": { schema: IngestBody }, "text/plain": { schema: IngestBody } },
      },
    },
    responses: {
      200: json(wire(IngestResult), "The batch is committed."),
      ...errorResponses([400, 401, 403, 404, 415, 500, 503], {
        401: 'No key (neither in Authorization nor as `"key"` in the body), a malformed Authorization header, an unknown or revoked key, or a secret key sent in the body.',
        403: "The key lacks the scope `events:write`, or the request's Origin is not one of the journey's `allowedOrigins` (when that list is not empty); the answer then carries no Access-Control-Allow-Origin and nothing is stored.",
        415: "The body is neither JSON nor text/plain, or is compressed (a Content-Encoding other than identity).",
      }),
    },
  });
  app.post("/api/events", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json(); // parsed once, by the JSON limits' guard
    } catch {
      return errorJson(c, 400, malformedBodyMessage("event"));
    }
    return c.json(await c.get("caller").events.ingest(body as IngestInput), 200);
  });
}
