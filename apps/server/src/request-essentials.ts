import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { EssentialsResponse } from "./essential-headers";
import type { Logger } from "./logger";

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
/** An API key's shape (`ody_sk_…`, `ody_pk_…`): never logged, wherever a client put one. */
const apiKeyLike = /ody_[sp]k_[A-Za-z0-9]*/gi;
const looksLikeKey = (value: string) => value.search(apiKeyLike) !== -1;

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
  if (!outgoing) c.header(name, value);
  // Once the head is sent (the deadline answered while the handler worked on), there is no
  // answer left to add a header to; Hono's context would throw reading a body already sent.
  else if (!outgoing.headersSent) outgoing.setHeader(name, value);
}

/** The request's id, for log lines (none under `app.request()`). */
export function requestIdOf(c: Context): string | undefined {
  const outgoing = nodeResponse(c);
  return outgoing instanceof EssentialsResponse ? outgoing.requestId : undefined;
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

/** The path of a request target, without its query ("/a?b" or the absolute form "http://h/a?b"). */
function pathOf(target: string): string {
  if (target.startsWith("/")) {
    const query = target.indexOf("?");
    return query === -1 ? target : target.slice(0, query);
  }
  return URL.canParse(target) ? new URL(target).pathname : target;
}

/**
 * A well-formed `X-Request-Id` from the client (a balancer's, say), else a new one. One holding
 * an API key is replaced too: the id is logged with every line of its request.
 */
function requestIdFor(incoming: IncomingMessage): string {
  const given = incoming.headers["x-request-id"];
  return typeof given === "string" && acceptableRequestId.test(given) && !looksLikeKey(given)
    ? given
    : nextRequestId();
}

/** A path as logged: an API key pasted into it (a slug, say) is written as its prefix only. */
const loggedPath = (path: string) =>
  looksLikeKey(path) ? path.replace(apiKeyLike, (key) => `${key.slice(0, 7)}[redacted]`) : path;

/** Whether a body the headers announce was left unread (the connection cannot carry another request). */
function bodyLeftUnread(incoming: IncomingMessage): boolean {
  const { headers } = incoming;
  const announced = headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined;
  return announced && !incoming.readableEnded;
}

/**
 * The response class that gives every answer its essentials: a request id (a well-formed
 * `X-Request-Id` from the client, else a new one), the security headers, a line in the access
 * log, and a closed connection once shutdown has begun (`isAccepting` false) or after an answer
 * given without reading the body (the server would drop the connection while draining it).
 *
 * They live in the Node layer rather than in a Hono middleware around every route, so that a
 * route with a single handler (the probes, the API reference) keeps Hono's direct dispatch:
 * a middleware costs each request a composed chain and its promises (docs/benchmarks.md, fix 27).
 */
export function essentialsResponse(logger: Logger, isAccepting: () => boolean): typeof EssentialsResponse {
  // Access lines carry fixed fields, never a credential, so they skip the redaction pass.
  const accessLog = logger.child({}, { redact: { paths: [] } });
  return class RequestEssentialsResponse<
    Incoming extends IncomingMessage = IncomingMessage,
  > extends EssentialsResponse<Incoming> {
    // Fields, not a constructor: Node's own arguments (its options) reach ServerResponse untouched.
    private readonly startedAt = performance.now();
    override requestId: string | undefined = requestIdFor(this.req);

    protected override keepsConnection(): boolean {
      return isAccepting() && !bodyLeftUnread(this.req);
    }

    // Logged when the head is written, as the status is known: the time is the time to answer.
    protected override headWritten(statusCode: number): void {
      const path = pathOf(this.req.url ?? "/");
      const line = {
        requestId: this.requestId,
        method: this.req.method,
        path: loggedPath(path),
        status: statusCode,
        ms: Math.round(performance.now() - this.startedAt),
      };
      if (probes.has(path)) accessLog.debug(line, "request");
      else accessLog.info(line, "request");
    }
  };
}
