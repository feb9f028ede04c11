import { z } from "@hono/zod-openapi";
import { missingBodyMessage, type Subject } from "@odyssey/api";
import type { MiddlewareHandler } from "hono";
import { declaresBody } from "../guards/body";
import { requestHeader } from "../request-essentials";
import { answerHeaders, errorJson } from "./errors";

// Pieces every REST route declaration shares.

export const SlugParam = z.object({
  slug: z.string().openapi({
    param: { name: "slug", in: "path" },
    example: "small-business-grant",
    description:
      "The journey's slug. A journey may be named `create`: `GET`, `PUT` and `DELETE /api/journeys/create` serve it, as only `POST` creates.",
  }),
});

export const json = <T>(schema: T, description: string) => ({
  description,
  headers: answerHeaders,
  content: { "application/json": { schema } },
});

export const jsonBody = <T>(schema: T) => ({ required: true, content: { "application/json": { schema } } });

/** `application/json` and its `+json` kinds, with or without parameters. */
export const jsonTypes = /^application\/(.+\+)?json\s*(;|$)/i;
export const notJsonMessage = "Content-Type must be application/json";

/**
 * For routes whose body is required: a request without one is refused, not validated as `{}`
 * (which would create nothing and answer why, or change nothing and answer 200), and a content
 * type other than JSON is a 415 even when the body is empty.
 */
export function bodyRequired(subject: Subject): MiddlewareHandler {
  return (c, next) => {
    const type = requestHeader(c, "content-type");
    if (type !== undefined && !jsonTypes.test(type))
      return Promise.resolve(errorJson(c, 415, notJsonMessage));
    if (!declaresBody(c)) return Promise.resolve(errorJson(c, 400, missingBodyMessage(subject)));
    return next();
  };
}
