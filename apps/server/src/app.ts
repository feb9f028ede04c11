import { OpenAPIHono } from "@hono/zod-openapi";
import { appRouter, createCaller, MAX_TRPC_BATCH_CALLS, malformedBodyMessage } from "@odyssey/api";
import type { DatabaseHandle } from "@odyssey/db";
import { Scalar } from "@scalar/hono-api-reference";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { timeout } from "hono/timeout";
import { exposedHeaders, preflightMaxAgeSeconds } from "./cors";
import type { Config } from "./env";
import { declaresBody, limitBody, uncompressedBodies } from "./guards/body";
import { eventElementsOf } from "./guards/event-elements";
import { restFieldMaxLength, trpcFieldMaxLength } from "./guards/field-limits";
import { jsonBodyLimits } from "./guards/json-body";
import { keyBeforeContent } from "./guards/key-first";
import { type Charges, rateLimits } from "./guards/rate-limit";
import { refuse } from "./guards/refuse";
import type { Logger } from "./logger";
import { documentHeaders, requestHeader, requestIdOf, setResponseHeader } from "./request-essentials";
import type { RestEnv } from "./rest/context";
import { errorJson, responseHeaderComponents, restError } from "./rest/errors";
import {
  eventBodyTypes,
  eventRoutes,
  eventsAnswerCors,
  eventsBodyLimit,
  eventsPreflight,
  notEventBodyMessage,
} from "./rest/events";
import { journeyRoutes } from "./rest/journeys";
import { jsonTypes, notJsonMessage } from "./rest/route-parts";
import { documentedRoutes, methodsAt, operationMethodsAt } from "./rest/route-table";
import { snapshotRoutes } from "./rest/snapshots";
import {
  trpcBatchSize,
  trpcEventsBodyLimit,
  trpcEventsPerRequest,
  trpcMethods,
  trpcPlainRequest,
  trpcProceduresOf,
} from "./trpc-guards";

export interface AppDeps {
  database: DatabaseHandle;
  config: Pick<
    Config,
    "maxBodyBytes" | "requestTimeoutMs" | "maxJsonDepth" | "maxJsonStringChars" | "rateLimits" | "adminOrigin"
  >;
  logger: Logger;
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  isAccepting?: () => boolean;
  /** The time of each request (receipt of events, "now" of analytics); tests set it. */
  clock?: () => Date;
}

/** Event ingestion has its own rate limit and its own CORS (browsers send events). */
const isIngestion = (path: string) => path === "/api/events" || path.startsWith("/api/events/");

/**
 * What a request costs in each rate limit: one token of ingestion's for events, of the control
 * plane's for the rest; a tRPC request one per call, each in the bucket of what it calls.
 */
function rateLimitCharges(path: string): Charges {
  if (!path.startsWith("/trpc/")) return isIngestion(path) ? { ingest: 1 } : { control: 1 };
  const procedures = trpcProceduresOf(path);
  const ingest = procedures.filter((procedure) => procedure === "events.ingest").length;
  return { control: procedures.length - ingest, ingest };
}

const scalarScript = "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1";

/** The paths outside the OpenAPI document's operations, each served by GET (and HEAD) alone. */
const paths = {
  health: "/healthz",
  ready: "/readyz",
  document: "/api/openapi.json",
  reference: "/docs",
} as const;
const getOnlyPaths = new Set<string>(Object.values(paths));

export function createApp({
  database,
  config,
  logger,
  isAccepting = () => true,
  clock = () => new Date(),
}: AppDeps) {
  const { db } = database;
  const app = new OpenAPIHono<RestEnv>();
  const routes = documentedRoutes(app.openAPIRegistry);

  // The control plane answers browsers only from the admin UI's origin; ingestion has its own CORS.
  // tRPC's answers carry a Vary of their own, which hono's cors extends; the REST routes' answers
  // get theirs set on the Node response, which spares them a web Headers object. A preflight
  // names only the methods served: tRPC's GET and POST, on a REST path those of its operations.
  const adminOnly = (origin: string) => (origin === config.adminOrigin ? origin : null);
  const adminOriginOf = (c: Context) => {
    const origin = requestHeader(c, "origin");
    return origin !== undefined && origin === config.adminOrigin ? origin : undefined;
  };
  const maxAge = preflightMaxAgeSeconds;
  const restPreflight = cors({
    origin: adminOnly,
    allowMethods: (_origin, c) => operationMethodsAt(routes(), c.req.path),
    maxAge,
  });
  const restControlCors: MiddlewareHandler<RestEnv> = (c, next) => {
    if (isPreflight(c)) {
      // An OPTIONS names the path's methods in Allow, a preflight too (the document says so).
      const allowed = methodsAt(routes(), c.req.path);
      if (allowed.length > 0) c.header("Allow", allowed.join(", "));
      return restPreflight(c, next);
    }
    const origin = adminOriginOf(c);
    if (origin !== undefined) {
      setResponseHeader(c, "Access-Control-Allow-Origin", origin);
      setResponseHeader(c, "Access-Control-Expose-Headers", exposedHeaders);
    }
    setResponseHeader(c, "Vary", "Origin");
    return next();
  };
  const trpcCors = cors({ origin: adminOnly, allowMethods: ["GET", "POST"], maxAge });
  const trpcControlCors: MiddlewareHandler<RestEnv> = (c, next) => {
    if (c.req.method !== "OPTIONS" && adminOriginOf(c) !== undefined)
      setResponseHeader(c, "Access-Control-Expose-Headers", exposedHeaders);
    return trpcCors(c, next);
  };
  const limit = rateLimits(config.rateLimits, (c) => rateLimitCharges(c.req.path));
  const eventsCors = eventsAnswerCors(db);
  app.use("/api/*", (c, next) => (isIngestion(c.req.path) ? eventsCors(c, next) : restControlCors(c, next)));
  app.use("/api/*", limit);
  app.use("/trpc/*", trpcControlCors, trpcMethods, trpcPlainRequest, limit);
  // The deadline answers without stopping the work: a write may still commit after it. It covers
  // the key check that follows a refusal too, which is a query.
  const late = `The request took longer than ${config.requestTimeoutMs} ms`;
  const lateWrite = `${late}; it may still take effect, so check before sending it again (an Idempotency-Key or event ids make a repeat safe)`;
  const retry = { "Retry-After": "1" };
  const deadline = timeout(config.requestTimeoutMs, (c) => {
    const reading = c.req.method === "GET" || c.req.method === "HEAD";
    return pastDeadline(refuse(c, 503, reading ? late : lateWrite, retry));
  });
  app.use("/api/*", deadline);
  app.use("/trpc/*", deadline);

  const keyFirst = keyBeforeContent(db, logger);
  app.use("/api/*", keyFirst);
  app.use("/trpc/*", keyFirst);

  // Bodies past the limit are never read, so the connection cannot carry another request.
  const tooLarge = `Request body is larger than ${config.maxBodyBytes} bytes`;
  const close = { Connection: "close" };
  const maxBytes = config.maxBodyBytes;
  const bodyLimit = limitBody({ maxBytes, refuse: (c) => refuse(c, 413, tooLarge, close) });
  // The events limit first: a batch past both is told the limit of batches.
  app.use("/api/*", uncompressedBodies, (c, next) =>
    isIngestion(c.req.path) ? eventsBodyLimit(c, next) : next(),
  );
  app.use("/trpc/*", uncompressedBodies, trpcEventsBodyLimit);
  app.use("/api/*", bodyLimit);
  app.use("/trpc/*", bodyLimit);

  app.use("/trpc/*", async (c, next) => {
    if (c.req.method === "POST" && !jsonTypes.test(requestHeader(c, "content-type") ?? ""))
      return refuse(c, 415, notJsonMessage);
    await next();
  });
  app.use("/api/events", eventsPreflight(db));

  const requestContext = (c: Context) => {
    const now = clock();
    return {
      db,
      authorization: requestHeader(c, "authorization"),
      origin: requestHeader(c, "origin"),
      userAgent: requestHeader(c, "user-agent"),
      uaMobile: requestHeader(c, "sec-ch-ua-mobile"),
      idempotencyKey: requestHeader(c, "idempotency-key"),
      receivedAt: now,
      now,
      keyVerified: () => c.set("keyVerified", true),
    };
  };

  app.use("/api/*", async (c, next) => {
    const method = c.req.method;
    const hasBody =
      (method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE") && declaresBody(c);
    const events = c.req.path === "/api/events";
    if (hasBody && !(events ? eventBodyTypes : jsonTypes).test(requestHeader(c, "content-type") ?? ""))
      return errorJson(c, 415, events ? notEventBodyMessage : notJsonMessage);
    c.set("caller", createCaller(requestContext(c)));
    await next();
  });
  const limits = { maxDepth: config.maxJsonDepth, maxStringChars: config.maxJsonStringChars };
  app.use(
    "/api/*",
    jsonBodyLimits(limits, {
      rebuildRequest: false,
      exemptOf: eventElementsOf,
      malformedMessage,
      fieldMaxLength: restFieldMaxLength(routes),
    }),
  );
  app.use(
    "/trpc/*",
    trpcBatchSize,
    jsonBodyLimits(limits, {
      rebuildRequest: true,
      exemptOf: eventElementsOf,
      fieldMaxLength: trpcFieldMaxLength,
    }),
    trpcEventsPerRequest,
  );

  app.route("/", journeyRoutes());
  app.route("/", snapshotRoutes());
  eventRoutes(app);

  app.all("/trpc/*", (c) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router: appRouter,
      maxBatchSize: MAX_TRPC_BATCH_CALLS,
      createContext: () => requestContext(c),
      responseMeta: ({ errors }) =>
        errors.some((error) => error.code === "SERVICE_UNAVAILABLE")
          ? { headers: { "Retry-After": "1" } }
          : {},
      onError: ({ error, path }) => {
        if (error.code === "SERVICE_UNAVAILABLE")
          logger.warn({ err: error.cause ?? error, path, requestId: requestIdOf(c) }, error.message);
        if (error.code === "INTERNAL_SERVER_ERROR")
          logger.error({ err: error.cause ?? error, path, requestId: requestIdOf(c) }, "unhandled error");
      },
    }),
  );

  app.get(paths.health, (c) => c.json({ status: "ok" }));
  app.get(paths.ready, async (c) => {
    const ready = isAccepting() && (await database.ping(1000));
    return c.json({ ready }, ready ? 200 : 503);
  });

  for (const [name, header] of Object.entries(responseHeaderComponents))
    app.openAPIRegistry.registerComponent("headers", name, header);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description:
      "An API key: `Authorization: Bearer ody_sk_…`. `POST /api/events` also takes a publishable key (`ody_pk_…`), here or in the body.",
  });
  app.doc31(paths.document, {
    openapi: "3.1.0",
    // Relative to where the document is served: the server that serves it.
    servers: [{ url: "/", description: "The server that serves this document" }],
    info: {
      title: "Odyssey API",
      version: "1.0.0",
      description: apiDescription,
    },
  });
  // The page's script comes from the CDN, held to the major version this page was made with, so a
  // release that changes its configuration cannot break the page unseen.
  app.get(
    paths.reference,
    documentHeaders,
    Scalar({ url: paths.document, pageTitle: "Odyssey API reference", cdn: scalarScript }),
  );

  // A path asked with a method it does not take: 405 with the methods it does.
  app.notFound((c) => {
    const allowed = getOnlyPaths.has(c.req.path)
      ? ["GET", "HEAD", "OPTIONS"]
      : methodsAt(routes(), c.req.path);
    if (allowed.length === 0) return errorJson(c, 404, `No route for ${c.req.method} ${c.req.path}`);
    const allow = { Allow: allowed.join(", ") };
    if (c.req.method === "OPTIONS") return c.body(null, 204, allow);
    const message = `Method ${c.req.method} is not allowed on ${c.req.path}: it takes ${allow.Allow}`;
    return errorJson(c, 405, message, allow);
  });
  app.onError((error, c) => restError(error, c, logger));
  return app;
}

/**
 * Each operation lists the statuses the app answers it with; the HTTP server (http.ts) answers
 * some requests itself, on any path, before an operation is chosen.
 */
const apiDescription = [
  "Multi-step form journeys: their configuration, steps, events and analytics.",
  "",
  "Each operation lists every status it answers. Before any operation is chosen, the HTTP server " +
    'itself answers, on every path alike and with the same `{"error"}` JSON, a request it cannot ' +
    "take: `400` for malformed HTTP (a missing or repeated `Host` included), `408` for a client " +
    "too slow to send its headers or its whole request, `417` for an `Expect` other than " +
    "`100-continue`, and `431` for a request head past the size limit; such an answer closes " +
    "the connection.",
  "",
  "A path of this document (or `/healthz`, `/readyz`, this document's own, `/docs`) asked with a method it does not take is answered `405` with `Allow`, " +
    "and `OPTIONS` on it `204` with `Allow` (on `/api/events` the CORS preflight: see that " +
    'operation); a path under `/api` that is not in this document, `404` `{"error": "No route for <method> <path>"}`.',
].join("\n");

/** A CORS preflight: OPTIONS from a browser, naming the method it means to send. */
const isPreflight = (c: Context) =>
  c.req.method === "OPTIONS" &&
  requestHeader(c, "origin") !== undefined &&
  requestHeader(c, "access-control-request-method") !== undefined;

/** A REST body that is not JSON, in the words of its readers (Hono's validators, events) and of tRPC. */
const malformedMessage = (c: Context) => malformedBodyMessage(isIngestion(c.req.path) ? "event" : "journey");

/** The answer sent when a request outlives its deadline (hono/timeout throws it). */
const pastDeadline = (res: Response) => new HTTPException(503, { res });

export type App = ReturnType<typeof createApp>;
