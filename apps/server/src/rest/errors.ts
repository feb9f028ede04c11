import { z } from "@hono/zod-openapi";
import { formatValidationError, internalErrorMessage, primaryIssue, type Subject } from "@odyssey/api";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import type { Logger } from "../logger";
import { requestIdOf } from "../request-essentials";

export const ErrorBody = z.object({ error: z.string() }).openapi("Error");

const describe: Record<number, string> = {
  400: "The request is invalid; the message names the field.",
  401: "No API key, a malformed Authorization header, an unknown key or a revoked key.",
  403: "The key lacks the scope this route needs.",
  404: "No such journey in the caller's organization.",
  409: "The slug is taken in this organization, or a request with the same Idempotency-Key is still in progress.",
  413: "The body is larger than the limit.",
  415: "The body is not JSON, or is compressed (a Content-Encoding other than identity).",
  422: "The Idempotency-Key was already used with a different request.",
  429: "Too many requests from this caller (the key in Authorization, else the client address), or too many with keys that failed from this address; retry after the Retry-After delay.",
  500: "An unexpected error; details are logged, never sent.",
  503: "The database is unreachable or cannot complete the request at the moment (read-only, out of resources, a statement past its timeout), the request outlived the server's deadline (a write may still take effect), or events came while their journey was being deleted; retry after the Retry-After delay.",
};

/**
 * The headers of the answers, as `components.headers` (app.ts registers them): the rate limit's
 * (guards/rate-limit.ts) on every answer of an operation while its limit is on, `X-Request-Id`
 * on every answer, and `Retry-After` on every 429 and 503.
 */
export const responseHeaderComponents = {
  "RateLimit-Limit": {
    description:
      "The caller's bucket size (the burst). Sent on every answer while the route's rate limit is on, except a 429 for invalid keys.",
    schema: { type: "integer", minimum: 1 },
  },
  "RateLimit-Policy": {
    description:
      'The bucket as `<burst>;w=<seconds to refill an empty bucket>;name="<control or ingest>"`. Sent with RateLimit-Limit.',
    schema: { type: "string" },
  },
  "RateLimit-Remaining": {
    description: "Requests left in the caller's bucket after this one. Sent with RateLimit-Limit.",
    schema: { type: "integer", minimum: 0 },
  },
  "RateLimit-Reset": {
    description: "Seconds until the caller's bucket is full again. Sent with RateLimit-Limit.",
    schema: { type: "integer", minimum: 0 },
  },
  "X-Request-Id": {
    description:
      "The request's id, as the server's log lines name it: the request's own `X-Request-Id` when it is 1 to 255 ASCII letters, digits, `_`, `-` or `=` holding no `ody_sk_` or `ody_pk_` (in any case), else a new one.",
    required: true,
    schema: { type: "string" },
  },
  "Retry-After": {
    description: "Seconds to wait before sending the request again.",
    required: true,
    schema: { type: "integer", minimum: 1 },
  },
} as const;

const headerRef = (name: keyof typeof responseHeaderComponents) => ({
  $ref: `#/components/headers/${name}`,
});

/** The headers every answer of an operation may carry: those of the rate limit. */
export const answerHeaders = {
  "RateLimit-Limit": headerRef("RateLimit-Limit"),
  "RateLimit-Policy": headerRef("RateLimit-Policy"),
  "RateLimit-Remaining": headerRef("RateLimit-Remaining"),
  "RateLimit-Reset": headerRef("RateLimit-Reset"),
  "X-Request-Id": headerRef("X-Request-Id"),
};

/** 429 and 503 also say when to come back. */
const retryHeaders = { ...answerHeaders, "Retry-After": headerRef("Retry-After") };

/** The 415 of an operation that reads no body: only a compressed one is refused. */
export const compressedBodyRefused =
  "The request carries a body compressed with a Content-Encoding other than identity (this operation reads no body).";

/**
 * OpenAPI `responses` entries for the error statuses a route can answer; every route can also
 * answer 413 (a body past the limit), 415 (a compressed body), whatever the method, and 429
 * (rate limits). `descriptions` replaces the usual words of a status where the route's differ.
 */
export function errorResponses(statuses: number[], descriptions: Record<number, string> = {}) {
  return Object.fromEntries(
    [...new Set([...statuses, 413, 415, 429])].sort().map((status) => [
      status,
      {
        description: descriptions[status] ?? describe[status] ?? "Error",
        headers: status === 429 || status === 503 ? retryHeaders : answerHeaders,
        content: { "application/json": { schema: ErrorBody } },
      },
    ]),
  );
}

export function errorJson(
  c: Context,
  status: ContentfulStatusCode,
  message: string,
  headers?: Record<string, string>,
) {
  return c.json({ error: message }, status, headers);
}

/**
 * Validation failures of REST inputs, in the same words tRPC uses; a query parameter given more
 * than once (which reaches the schema as a list) is told so rather than that its value is wrong.
 */
export function validationHook(subject: Subject) {
  return (result: { success: boolean; error?: unknown; target?: string }, c: Context) => {
    if (result.success) return;
    const error = result.error as ZodError;
    const name = primaryIssue(error.issues)?.path[0];
    if (result.target === "query" && typeof name === "string" && (c.req.queries(name)?.length ?? 0) > 1)
      return errorJson(c, 400, `Invalid ${subject} data: ${name} must be given once`);
    return errorJson(c, 400, formatValidationError(error, subject));
  };
}

/** The one mapping from anything thrown to a REST answer; unknown errors are logged, not sent. */
export function restError(error: unknown, c: Context, logger: Logger): Response {
  if (error instanceof TRPCError) {
    const status = getHTTPStatusCodeFromError(error) as ContentfulStatusCode;
    if (status < 500) return errorJson(c, status, error.message);
    if (status === 503) {
      logger.warn({ err: error.cause ?? error, requestId: requestIdOf(c) }, error.message);
      return errorJson(c, 503, error.message, { "Retry-After": "1" });
    }
    error = error.cause ?? error;
  }
  if (error instanceof HTTPException && error.res) return error.getResponse();
  if (error instanceof HTTPException && error.status < 500) {
    return errorJson(c, error.status as ContentfulStatusCode, error.message || "Bad request");
  }
  logger.error({ err: error, requestId: requestIdOf(c) }, "unhandled error");
  return errorJson(c, 500, internalErrorMessage);
}
