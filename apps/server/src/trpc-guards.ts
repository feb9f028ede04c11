import { deserializeInput, MAX_EVENTS_PER_BATCH, MAX_TRPC_BATCH_CALLS } from "@odyssey/api";
import type { MiddlewareHandler } from "hono";
import { refuse } from "./guards/refuse";
import { requestHeader } from "./request-essentials";
import type { RestEnv } from "./rest/context";
import { eventsBodyLimit } from "./rest/events";

/** The procedures a request to `/trpc/a,b` calls (a batch of calls names several). */
export const trpcProceduresOf = (path: string) => path.slice("/trpc/".length).split(",");

/** Procedure names (`journeys.snapshots.list`), one or several comma-separated. */
const procedurePath = /^\/trpc\/[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*(,[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*)*$/;

/**
 * What the guards and the deadline can vouch for reaches tRPC, nothing else:
 * - Only paths that name procedures plainly: tRPC itself decodes the path and trims its slashes,
 *   so `%2C` or a trailing `/` would call procedures that the guards reading `trpcProceduresOf`
 *   (rate limit, body limits, key checks) never saw.
 * - No streamed answers (`application/jsonl`, asked for in `trpc-accept` or `Accept`): their 200
 *   is sent before the calls end, so the request deadline could not answer them.
 *   `@odyssey/client` batches without streaming.
 * - No `connectionParams` (for subscriptions over one connection, which this API has none of).
 */
export const trpcPlainRequest: MiddlewareHandler<RestEnv> = (c, next) => {
  const url = c.req.url;
  const query = url.indexOf("?");
  const target = query < 0 ? url : url.slice(0, query);
  // The path as sent: decoded, `journeys%2Elist` would read as a procedure that exists.
  if (target.includes("%") || !procedurePath.test(c.req.path))
    return Promise.resolve(refuse(c, 404, `No tRPC procedure at ${pathAsSent(target)}`));
  const accept = `${requestHeader(c, "trpc-accept") ?? ""},${requestHeader(c, "accept") ?? ""}`;
  if (accept.includes("application/jsonl"))
    return Promise.resolve(
      refuse(c, 400, "Streamed answers (application/jsonl) are not served: ask for application/json"),
    );
  if (query >= 0 && new URLSearchParams(url.slice(query + 1)).has("connectionParams"))
    return Promise.resolve(
      refuse(c, 400, "connectionParams is not supported: send the key in Authorization"),
    );
  return next();
};

/** The path of a URL without its query, as the request line has it (escapes kept). */
function pathAsSent(target: string): string {
  const start = target.indexOf("/", target.indexOf("://") + 3);
  return start < 0 ? "/" : target.slice(start);
}

/**
 * A batch of more than MAX_TRPC_BATCH_CALLS calls is refused before any of them runs, with the
 * limit in the message (tRPC's own says only "Batch call exceeds maximum size").
 */
export const trpcBatchSize: MiddlewareHandler<RestEnv> = (c, next) => {
  if (c.req.query("batch") !== "1") return next();
  const calls = trpcProceduresOf(c.req.path).length;
  if (calls <= MAX_TRPC_BATCH_CALLS) return next();
  const message = `A tRPC request may batch at most ${MAX_TRPC_BATCH_CALLS} calls (MAX_TRPC_BATCH_CALLS); this one has ${calls}`;
  return Promise.resolve(refuse(c, 400, message));
};

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

/**
 * A request is held to the 500 events of `POST /api/events` however many `events.ingest` calls
 * it batches: each call checks its own batch, so only a batch of several calls is counted here,
 * before any of them runs, on each input decoded as tRPC will decode it. An input tRPC cannot
 * read is left to tRPC, which answers it.
 */
export const trpcEventsPerRequest: MiddlewareHandler<RestEnv> = async (c, next) => {
  const ingestCalls = trpcProceduresOf(c.req.path).flatMap((name, call) =>
    name === "events.ingest" ? [call] : [],
  );
  if (ingestCalls.length < 2 || c.req.method !== "POST" || c.req.query("batch") !== "1") return next();
  const body: unknown = await c.req.json().catch(() => undefined);
  let events = 0;
  for (const call of ingestCalls) events += eventCountOf(body, call);
  if (events > MAX_EVENTS_PER_BATCH) {
    const message = `A request may carry at most ${MAX_EVENTS_PER_BATCH} events; this one has ${events} in ${ingestCalls.length} calls of events.ingest`;
    return refuse(c, 413, message);
  }
  return next();
};

/** The length of `events` in the decoded input of a batch's call (`{"<call>": {json, meta}}`). */
function eventCountOf(body: unknown, call: number): number {
  const encoded = (body as Record<string, unknown> | undefined)?.[call];
  try {
    const events = (deserializeInput(encoded) as { events?: unknown } | undefined)?.events;
    return Array.isArray(events) ? events.length : 0;
  } catch {
    return 0;
  }
}
