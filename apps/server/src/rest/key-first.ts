import { authorizeKey, knownTRPCError, type Scope } from "@odyssey/api";
import type { Database } from "@odyssey/db";
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../logger";
import { requestHeader } from "../request-essentials";
import type { RestEnv } from "./context";
import { restError } from "./errors";

/** The scope a journeys route needs: reading for GET, writing for everything else. */
export const scopeOfJourneyRequest = (method: string): Scope =>
  method === "GET" || method === "HEAD" ? "journeys:read" : "journeys:write";

/** Answers refused for what was sent, which a caller without the right key must not see first. */
const contentRefusals = new Set([400, 415]);

/**
 * Who may call comes before what was sent, as in every tRPC procedure: a request refused for its
 * body, query or content type (400, 415) with a key that is missing, unknown, revoked or without
 * the route's scope answers that key's 401 or 403 instead. On `/api/events` this holds for a key
 * in the `Authorization` header; a publishable key in the body can only be judged once the body
 * has been read, so without a header such a refusal stands. Only refused requests pay for the
 * extra key lookup; the routes themselves check the key with their query.
 */
export function keyBeforeContent(db: Database, logger: Logger): MiddlewareHandler<RestEnv> {
  return async (c, next) => {
    await next();
    if (!contentRefusals.has(c.res.status)) return;
    const scope = scopeOfRequest(c.req.path, c.req.method, requestHeader(c, "authorization"));
    if (scope === undefined) return;
    try {
      await authorizeKey(db, requestHeader(c, "authorization"), scope);
    } catch (error) {
      c.res = restError(knownTRPCError(error) ?? error, c, logger);
    }
  };
}

/** The scope a refused request's key must hold, when its key can be judged without its body. */
function scopeOfRequest(path: string, method: string, authorization: string | undefined): Scope | undefined {
  if (path.startsWith("/api/journeys")) return scopeOfJourneyRequest(method);
  if (path === "/api/events" && authorization !== undefined && authorization.trim() !== "")
    return "events:write";
  return undefined;
}
