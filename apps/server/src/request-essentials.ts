import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { EssentialsResponse, securityHeaders } from "./essential-headers";
import type { Logger } from "./logger";
import type { RestEnv } from "./rest/context";

/**
 * What hono's secureHeaders() adds for HTML documents besides: only the pages (the API
 * reference) get these; on JSON they would be bytes and header checks on every answer for nothing.
 */
export const documentHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header("Origin-Agent-Cluster", "?1");
  c.header("X-DNS-Prefetch-Control", "off");
  c.header("X-Download-Options", "noopen");
  c.header("X-Permitted-Cross-Domain-Policies", "none");
  c.header("X-XSS-Protection", "0");
};

const acceptableRequestId = /^[\w\-=]{1,255}$/;

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;

/** The Node response behind a request that @hono/node-server serves (none under `app.request()`). */
const nodeResponse = (c: Context): ServerResponse | undefined => (c.env as NodeBindings)?.outgoing;

/** The Node request behind a request that @hono/node-server serves (none under `app.request()`). */
export const nodeRequest = (c: Context): IncomingMessage | undefined => (c.env as NodeBindings)?.incoming;

/**
 * A request header (lower-case name). Under Node it is read from the parsed request; asking
 * Hono's request makes the adapter copy every header into a web `Headers` object first.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeRequest(c);
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * Sets a header of the answer, whatever Response the handler returns. Under Node it goes
 * straight onto the ServerResponse, which merges it into the Response's own headers when they
 * are written. Set on Hono's context instead, it makes every answer carry a web `Headers`
 * object, which costs a validated copy per header and a sorted conversion back per request.
 */
export function setResponseHeader(c: Context, name: string, value: string): void {
  const outgoing = nodeResponse(c);
  if (outgoing && !outgoing.headersSent) outgoing.setHeader(name, value);
  else c.header(name, value);
}

/** The essential headers for a handler that builds its own Response (tRPC), when Node does not add them. */
export function ownResponseHeaders(c: Context<RestEnv>): Record<string, string> {
  if (nodeResponse(c)) return {};
  return { ...Object.fromEntries(securityHeaders), "X-Request-Id": c.get("requestId") };
}

/**
 * Request ids only have to tell requests apart in the logs: a random prefix per process and a
 * counter are unique across processes and restarts, and cost less than a UUID per request.
 */
const processPrefix = randomUUID().slice(0, 8);
let requestCount = 0;
const nextRequestId = () => `${processPrefix}-${(++requestCount).toString(36)}`;

/** Health probes arrive every few seconds from each balancer: their lines are debug-level. */
const probes = new Set(["/healthz", "/readyz"]);

/**
 * Request id, security headers, the access log and whether the connection is kept, in one
 * middleware (each middleware costs every request a dispatch and a promise). No connection is
 * kept for another request once shutdown has begun (`isAccepting` false), nor after an answer
 * given without reading the body: the server would drop the connection while draining it.
 */
export function requestEssentials(
  logger: Logger,
  isAccepting: () => boolean,
  bodyLeftUnread: (c: Context) => boolean,
): MiddlewareHandler<RestEnv> {
  // Access lines carry fixed fields, never a credential, so they skip the redaction pass.
  const accessLog = logger.child({}, { redact: { paths: [] } });
  return async (c, next) => {
    const started = performance.now();
    const incoming = requestHeader(c, "x-request-id");
    const requestId = incoming && acceptableRequestId.test(incoming) ? incoming : nextRequestId();
    c.set("requestId", requestId);
    const outgoing = nodeResponse(c);
    if (outgoing instanceof EssentialsResponse) outgoing.requestId = requestId;
    else {
      setResponseHeader(c, "X-Request-Id", requestId);
      for (const [name, value] of securityHeaders) setResponseHeader(c, name, value);
    }
    await next();
    if (!isAccepting() || bodyLeftUnread(c)) c.res.headers.set("Connection", "close");
    const path = c.req.path;
    const line = {
      requestId,
      method: c.req.method,
      path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    };
    if (probes.has(path)) accessLog.debug(line, "request");
    else accessLog.info(line, "request");
  };
}
