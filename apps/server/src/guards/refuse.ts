import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorJson } from "../rest/errors";
import { trpcErrorJson } from "../trpc-errors";

const trpcCodes: Partial<Record<number, TRPC_ERROR_CODE_KEY>> = {
  400: "BAD_REQUEST",
  413: "PAYLOAD_TOO_LARGE",
  429: "TOO_MANY_REQUESTS",
};

/** A refusal in the caller's transport: tRPC's error shape under /trpc, `{"error"}` elsewhere. */
export function refuse(
  c: Context,
  status: ContentfulStatusCode,
  message: string,
  headers?: Record<string, string>,
): Response {
  const code = trpcCodes[status];
  return c.req.path.startsWith("/trpc/") && code
    ? trpcErrorJson(c, code, status, message, headers)
    : errorJson(c, status, message, headers);
}
