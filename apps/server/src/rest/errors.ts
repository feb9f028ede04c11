import { z } from "@hono/zod-openapi";
import { formatValidationError, internalErrorMessage, type Subject } from "@odyssey/api";
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
  429: "Too many requests for this key; retry after the Retry-After delay.",
  500: "An unexpected error; details are logged, never sent.",
  503: "The database is unreachable; retry after the Retry-After delay.",
};

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

/** Validation failures of REST inputs, in the same words tRPC uses. */
export function validationHook(subject: Subject) {
  return (result: { success: boolean; error?: unknown }, c: Context) => {
    if (!result.success) return errorJson(c, 400, formatValidationError(result.error as ZodError, subject));
  };
}

/** The one mapping from anything thrown to a REST answer; unknown errors are logged, not sent. */
export function restError(error: unknown, c: Context, logger: Logger): Response {
  if (error instanceof TRPCError) {
    const status = getHTTPStatusCodeFromError(error) as ContentfulStatusCode;
    if (status < 500) return errorJson(c, status, error.message);
    if (status === 503) {
      logger.warn({ err: error.cause ?? error, requestId: requestIdOf(c) }, "database unavailable");
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
