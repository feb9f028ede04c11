import { appRouter, createCaller } from "@odyssey/api";
import type { DatabaseHandle } from "@odyssey/db";
import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { bodyLimit } from "hono/body-limit";
import type { Config } from "./env";
import type { Logger } from "./logger";
import { requestContext, responseHeaders } from "./request-context";
import type { RestEnv } from "./rest/context";
import { errorJson, restError } from "./rest/errors";
import { journeyRoutes } from "./rest/journeys";

export interface AppDeps {
  database: DatabaseHandle;
  config: Pick<Config, "maxBodyBytes">;
  logger: Logger;
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  isAccepting?: () => boolean;
}

const jsonTypes = /^application\/(.+\+)?json\s*(;|$)/i;

export function createApp({ database, config, logger, isAccepting = () => true }: AppDeps) {
  const { db } = database;
  const app = new OpenAPIHono<RestEnv>();

  app.use(requestContext(logger));

  const limit = bodyLimit({
    maxSize: config.maxBodyBytes,
    // The rest of the body is never read, so the connection cannot carry another request.
    onError: (c) =>
      errorJson(c, 413, `Request body is larger than ${config.maxBodyBytes} bytes`, { Connection: "close" }),
  });
  // Only requests that carry a body: asking a bodiless one for its body would make the adapter
  // build a full Request object for nothing.
  const limitBody: typeof limit = (c, next) =>
    c.req.header("content-length") !== undefined || c.req.header("transfer-encoding") !== undefined
      ? limit(c, next)
      : next();
  app.use("/api/*", limitBody);
  app.use("/trpc/*", limitBody);

  app.use("/api/*", async (c, next) => {
    const hasBody = c.req.method === "POST" || c.req.method === "PUT" || c.req.method === "PATCH";
    if (hasBody && !jsonTypes.test(c.req.header("content-type") ?? ""))
      return errorJson(c, 415, "Content-Type must be application/json");
    c.set("caller", createCaller({ db, authorization: c.req.header("authorization") }));
    await next();
  });

  app.route("/", journeyRoutes());

  app.all("/trpc/*", (c) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router: appRouter,
      createContext: () => ({ db, authorization: c.req.header("authorization") }),
      // tRPC builds its own Response, so the headers set on the context do not reach it.
      responseMeta: () => ({ headers: responseHeaders(c.get("requestId")) }),
      onError: ({ error, path }) => {
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
