import { authorizeKey, knownTRPCError } from "@odyssey/api";
import type { Database } from "@odyssey/db";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "./logger";
import { requestHeader } from "./request-essentials";
import type { RestEnv } from "./rest/context";
import { eventsBodyLimit } from "./rest/events";
import { scopeOfProcedure } from "./rest/security";
import { trpcErrorJson } from "./trpc-errors";

/** The procedures a request to `/trpc/a,b` calls (a batch of calls names several). */
export const trpcProceduresOf = (path: string) => path.slice("/trpc/".length).split(",");

/** tRPC takes queries as GET and mutations as POST; anything else is refused as such (405). */
export const trpcMethods: MiddlewareHandler<RestEnv> = (c, next) => {
  const method = c.req.method;
  if (method === "GET" || method === "POST") return next();
  return Promise.resolve(
    trpcErrorJson(
      c,
      "METHOD_NOT_SUPPORTED",
      405,
      `Method ${method} is not supported: tRPC takes GET and POST`,
      {
        Allow: "GET, POST",
      },
    ),
  );
};

/** A request that calls `events.ingest` is held to the batch size of `POST /api/events`. */
export const trpcEventsBodyLimit: MiddlewareHandler<RestEnv> = (c, next) =>
  trpcProceduresOf(c.req.path).includes("events.ingest") ? eventsBodyLimit(c, next) : next();

/**
 * Who may call comes before what was sent, on tRPC as on REST (rest/key-first.ts): a request
 * refused before its procedures ran (content type, JSON limits: 400, 415) answers the key's 401
 * or 403 when the key cannot make every call it asks for. `events.ingest` without a header may
 * carry a publishable key in its body, which cannot be judged before the body is read.
 */
export function trpcKeyBeforeContent(db: Database, logger: Logger): MiddlewareHandler<RestEnv> {
  return async (c, next) => {
    await next();
    if (c.res.status !== 400 && c.res.status !== 415) return;
    const authorization = requestHeader(c, "authorization");
    const hasHeader = authorization !== undefined && authorization.trim() !== "";
    const procedures = trpcProceduresOf(c.req.path);
    if (!hasHeader && procedures.includes("events.ingest")) return;
    const scopes = new Set(procedures.map(scopeOfProcedure));
    try {
      for (const scope of scopes) if (scope) await authorizeKey(db, authorization, scope);
    } catch (thrown) {
      const error = knownTRPCError(thrown);
      if (!(error instanceof TRPCError)) {
        logger.warn({ err: thrown }, "key check after a refused tRPC request failed");
        return;
      }
      const status = getHTTPStatusCodeFromError(error) as ContentfulStatusCode;
      const retry = status === 503 ? { "Retry-After": "1" } : undefined;
      c.res = trpcErrorJson(c, error.code, status, error.message, retry);
    }
  };
}
