import { authorizeKey, knownTRPCError, type Scope } from "@odyssey/api";
import type { Database } from "@odyssey/db";
import type { Context, MiddlewareHandler } from "hono";
import type { Logger } from "../logger";
import { requestHeader } from "../request-essentials";
import type { RestEnv } from "../rest/context";
import { scopeOfProcedure } from "../rest/security";
import { trpcProceduresOf } from "../trpc-guards";
import { refuseWithError } from "./refuse";

/** The scope a journeys route needs: reading for GET, writing for everything else. */
export const scopeOfJourneyRequest = (method: string): Scope =>
  method === "GET" || method === "HEAD" ? "journeys:read" : "journeys:write";

/** Answers refused for what was sent, which a caller without the right key must not see first. */
const contentRefusals = new Set([400, 415]);

/**
 * Who may call comes before what was sent, on REST as in every tRPC procedure: a request refused
 * for its body, query or content type (400, 415) with a key that is missing, unknown, revoked or
 * without the scope of every call it asks for answers that key's 401 or 403 instead. Ingestion
 * (`/api/events`, `events.ingest`) is judged so only with a key in the `Authorization` header: a
 * publishable key in the body can only be judged once the body has been read, so without a
 * header such a refusal stands. Only refused requests pay for the extra key lookup; the
 * procedures themselves check the key with their query.
 */
export function keyBeforeContent(db: Database, logger: Logger): MiddlewareHandler<RestEnv> {
  return async (c, next) => {
    await next();
    if (!contentRefusals.has(c.res.status)) return;
    const authorization = requestHeader(c, "authorization");
    try {
      for (const scope of scopesToJudge(c, authorization)) {
        await authorizeKey(db, authorization, scope);
        c.set("keyVerified", true);
      }
    } catch (thrown) {
      const error = knownTRPCError(thrown);
      // The request stays refused for what it sent when its key cannot be judged.
      if (error === undefined) logger.warn({ err: thrown }, "key check after a refused request failed");
      else {
        if (error.code === "FORBIDDEN") c.set("keyVerified", true);
        c.res = refuseWithError(c, error);
      }
    }
  };
}

/** The scopes a refused request's key must hold, as far as they are known without its body. */
function scopesToJudge(c: Context, authorization: string | undefined): Set<Scope> {
  const path = c.req.path;
  const hasHeader = authorization !== undefined && authorization.trim() !== "";
  if (path.startsWith("/api/journeys")) return new Set([scopeOfJourneyRequest(c.req.method)]);
  if (path === "/api/events") return new Set(hasHeader ? ["events:write"] : []);
  if (path.startsWith("/trpc/")) {
    const procedures = trpcProceduresOf(path);
    if (!hasHeader && procedures.includes("events.ingest")) return new Set();
    return new Set(procedures.map(scopeOfProcedure).filter((scope) => scope !== undefined));
  }
  return new Set();
}
