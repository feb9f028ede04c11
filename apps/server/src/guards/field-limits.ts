import type { OpenAPIHono } from "@hono/zod-openapi";
import { maxLengthAt } from "@odyssey/api";
import type { Context } from "hono";
import type { ZodType } from "zod";
import { inputOfProcedure } from "../rest/security";
import { trpcProceduresOf } from "../trpc-guards";
import type { JsonPath } from "./json-path";

/** The most characters the contract allows the string at `path` of a request's input. */
export type FieldMaxLength = (c: Context, path: JsonPath, call: number) => number | undefined;

/** For tRPC: the input schema of the procedure the call (its index in a batch) names. */
export const trpcFieldMaxLength: FieldMaxLength = (c, path, call) => {
  const procedure = trpcProceduresOf(c.req.path)[call];
  const input = procedure === undefined ? undefined : inputOfProcedure(procedure);
  return input && maxLengthAt(input, path);
};

interface RouteBody {
  method: string;
  pattern: RegExp;
  schema: ZodType;
}

type Registry = OpenAPIHono["openAPIRegistry"];

/**
 * For REST: the JSON body schema of the documented route the request matches, read from the
 * routes' own declarations (the app's OpenAPI registry) the first time it is needed.
 */
export function restFieldMaxLength(registry: Registry): FieldMaxLength {
  let bodies: RouteBody[] | undefined;
  return (c, path) => {
    bodies ??= routeBodies(registry);
    const method = c.req.method.toLowerCase();
    const route = bodies.find((body) => body.method === method && body.pattern.test(c.req.path));
    return route && maxLengthAt(route.schema, path);
  };
}

function routeBodies(registry: Registry): RouteBody[] {
  return registry.definitions.flatMap((definition) => {
    if (definition.type !== "route") return [];
    const { method, path, request } = definition.route;
    const media = request?.body?.content["application/json"];
    const schema = media && "schema" in media ? media.schema : undefined;
    if (!(schema && "_zod" in schema)) return [];
    const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    return [{ method, pattern, schema: schema as ZodType }];
  });
}
