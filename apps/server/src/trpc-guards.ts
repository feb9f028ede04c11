import type { MiddlewareHandler } from "hono";
import { refuse } from "./guards/refuse";
import type { RestEnv } from "./rest/context";
import { eventsBodyLimit } from "./rest/events";

/** The procedures a request to `/trpc/a,b` calls (a batch of calls names several). */
export const trpcProceduresOf = (path: string) => path.slice("/trpc/".length).split(",");

/** tRPC takes queries as GET and mutations as POST; anything else is refused as such (405). */
export const trpcMethods: MiddlewareHandler<RestEnv> = (c, next) => {
  const method = c.req.method;
  if (method === "GET" || method === "POST") return next();
  const message = `Method ${method} is not supported: tRPC takes GET and POST`;
  return Promise.resolve(refuse(c, 405, message, { Allow: "GET, POST" }));
};

/** A request that calls `events.ingest` is held to the batch size of `POST /api/events`. */
export const trpcEventsBodyLimit: MiddlewareHandler<RestEnv> = (c, next) =>
  trpcProceduresOf(c.req.path).includes("events.ingest") ? eventsBodyLimit(c, next) : next();
