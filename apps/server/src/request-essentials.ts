import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { Logger } from "./logger";
import type { RestEnv } from "./rest/context";

/** What hono's secureHeaders() sends by default (with Cross-Origin-Resource-Policy off). */
const securityHeaders: [string, string][] = [
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Frame-Options", "SAMEORIGIN"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
];

const acceptableRequestId = /^[\w\-=]{1,255}$/;

/** The headers every answer carries; for handlers that build their own Response (tRPC). */
export function responseHeaders(requestId: string): Record<string, string> {
  return { ...Object.fromEntries(securityHeaders), "X-Request-Id": requestId };
}

/**
 * Request id, security headers and the access log in one middleware. The headers are set
 * before the handler runs, so they are part of the response it builds; setting them on the
 * finished response instead makes Hono rebuild it on every request.
 */
export function requestEssentials(logger: Logger): MiddlewareHandler<RestEnv> {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && acceptableRequestId.test(incoming) ? incoming : randomUUID();
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    for (const [name, value] of securityHeaders) c.header(name, value);
    await next();
    logger.info(
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      "request",
    );
  };
}
