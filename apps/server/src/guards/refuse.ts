import type { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorJson } from "../rest/errors";
import { trpcErrorJson } from "../trpc-errors";

/** The tRPC code of each status the guards answer with. */
const trpcCodes = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_SUPPORTED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "TOO_MANY_REQUESTS",
  503: "SERVICE_UNAVAILABLE",
} as const satisfies Partial<Record<ContentfulStatusCode, TRPC_ERROR_CODE_KEY>>;

export type RefusalStatus = keyof typeof trpcCodes;

/** One error answer in the caller's transport: tRPC's error shape under /trpc, `{"error"}` elsewhere. */
function inTransport(
  c: Context,
  code: TRPC_ERROR_CODE_KEY,
  status: ContentfulStatusCode,
  message: string,
  headers?: Record<string, string>,
): Response {
  return c.req.path.startsWith("/trpc/")
    ? trpcErrorJson(c, code, status, message, headers)
    : errorJson(c, status, message, headers);
}

/**
 * A refusal in the caller's transport, for what is refused before any procedure runs, with the
 * same message in both.
 */
export function refuse(
  c: Context,
  status: RefusalStatus,
  message: string,
  headers?: Record<string, string>,
): Response {
  return inTransport(c, trpcCodes[status], status, message, headers);
}

/** A known error of the domain (a key refused, the database unreachable), answered like `refuse`. */
export function refuseWithError(c: Context, error: TRPCError): Response {
  const status = getHTTPStatusCodeFromError(error) as ContentfulStatusCode;
  const headers = status === 503 ? { "Retry-After": "1" } : undefined;
  return inTransport(c, error.code, status, error.message, headers);
}
