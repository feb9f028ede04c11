import { OpenAPIHono } from "@hono/zod-openapi";
import { appRouter, createCaller } from "@odyssey/api";
import type { DatabaseHandle } from "@odyssey/db";
import { Scalar } from "@scalar/hono-api-reference";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { Config } from "./env";
import { deadline } from "./guards/deadline";
import { jsonBodyLimits } from "./guards/json-body";
import { rateLimit } from "./guards/rate-limit";
import type { Logger } from "./logger";
import type { RestEnv } from "./rest/context";
import { errorJson, restError } from "./rest/errors";
import { journeyRoutes } from "./rest/journeys";

export interface AppDeps {
  database: DatabaseHandle;
  config: Pick<
    Config,
    "maxBodyBytes" | "requestTimeoutMs" | "maxJsonDepth" | "maxJsonStringChars" | "rateLimits" | "adminOrigin"
  >;
  logger: Logger;
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  isAccepting?: () => boolean;
}

const jsonTypes = /^application\/(.+\+)?json\s*(;|$)/i;
/** Event ingestion has its own rate limit and its own CORS (browsers send events). */
const isIngestion = (path: string) => path === "/api/events" || path.startsWith("/api/events/");

export function createApp({ database, config, logger, isAccepting = () => true }: AppDeps) {
  const { db } = database;
  const app = new OpenAPIHono<RestEnv>();

  app.use(requestId());
  app.use(secureHeaders({ crossOriginResourcePolicy: false }));
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    logger.info(
      {
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      "request",
    );
  });

  app.use(async (c, next) => {
    const request = c.req.raw;
    await next();
    // No connection is kept for another request once shutdown has begun, nor after an answer
    // given without reading the body (the server would drop the connection while draining it).
    const unreadBody = request.body !== null && !request.bodyUsed;
    if (!isAccepting() || unreadBody) c.res.headers.set("Connection", "close");
  });
  app.use(deadline(config.requestTimeoutMs));

  // The control plane answers browsers only from the admin UI's origin.
  const controlCors = cors({ origin: (origin) => (origin === config.adminOrigin ? origin : null) });
  const controlLimit = rateLimit("control", config.rateLimits.control);
  const ingestLimit = rateLimit("ingest", config.rateLimits.ingest);
  app.use("/api/*", (c, next) => (isIngestion(c.req.path) ? next() : controlCors(c, next)));
  app.use("/api/*", (c, next) => (isIngestion(c.req.path) ? ingestLimit(c, next) : controlLimit(c, next)));
  app.use("/trpc/*", controlCors, controlLimit);

  const limit = bodyLimit({
    maxSize: config.maxBodyBytes,
    // The rest of the body is never read, so the connection cannot carry another request.
    onError: (c) =>
      errorJson(c, 413, `Request body is larger than ${config.maxBodyBytes} bytes`, { Connection: "close" }),
  });
  app.use("/api/*", limit);
  app.use("/trpc/*", limit);
  const jsonLimits = jsonBodyLimits({
    maxDepth: config.maxJsonDepth,
    maxStringChars: config.maxJsonStringChars,
  });

  app.use("/api/*", async (c, next) => {
    const hasBody = c.req.method === "POST" || c.req.method === "PUT" || c.req.method === "PATCH";
    if (hasBody && !jsonTypes.test(c.req.header("content-type") ?? ""))
      return errorJson(c, 415, "Content-Type must be application/json");
    c.set(
      "caller",
      createCaller({
        db,
        authorization: c.req.header("authorization"),
        idempotencyKey: c.req.header("idempotency-key"),
      }),
    );
    await next();
  });
  app.use("/api/*", jsonLimits);
  app.use("/trpc/*", jsonLimits);

  app.route("/", journeyRoutes());

  app.all("/trpc/*", (c) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router: appRouter,
      createContext: () => ({
        db,
        authorization: c.req.header("authorization"),
        idempotencyKey: c.req.header("idempotency-key"),
      }),
      responseMeta: ({ errors }) =>
        errors.some((error) => error.code === "SERVICE_UNAVAILABLE")
          ? { headers: { "Retry-After": "1" } }
          : {},
      onError: ({ error, path }) => {
        if (error.code === "SERVICE_UNAVAILABLE")
          logger.warn(
            { err: error.cause ?? error, path, requestId: c.get("requestId") },
            "database unavailable",
          );
        if (error.code === "INTERNAL_SERVER_ERROR")
          logger.error({ err: error.cause ?? error, path, requestId: c.get("requestId") }, "unhandled error");
      },
    }),
  );

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const ready = isAccepting() && (await database.ping(1000));
    return c.json({ ready }, ready ? 200 : 503);
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "A secret API key: `Authorization: Bearer ody_sk_…`",
  });
  app.doc31("/api/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Odyssey API",
      version: "1.0.0",
      description: "Multi-step form journeys: their configuration, steps, events and analytics.",
    },
  });
  app.get("/docs", Scalar({ url: "/api/openapi.json", pageTitle: "Odyssey API reference" }));

  app.notFound((c) => errorJson(c, 404, `No route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => restError(error, c, logger));
  return app;
}

export type App = ReturnType<typeof createApp>;
