import { type TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import superjson from "superjson";

/**
 * A tRPC error answer for what is refused before the tRPC handler runs (body limit, content
 * type, deadline), in the shape tRPC clients read, with the same text the REST API sends.
 */
export function trpcErrorJson(
  c: Context,
  code: TRPC_ERROR_CODE_KEY,
  httpStatus: ContentfulStatusCode,
  message: string,
  headers?: Record<string, string>,
): Response {
  const shape = { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus } };
  return c.json({ error: superjson.serialize(shape) }, httpStatus, headers);
}
