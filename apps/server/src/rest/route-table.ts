import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ZodType } from "zod";

/** A documented REST route: its method, its path as a pattern, and its JSON body's schema. */
export interface DocumentedRoute {
  method: string;
  pattern: RegExp;
  body: ZodType | undefined;
}

type Registry = OpenAPIHono["openAPIRegistry"];

/**
 * The REST routes as their own declarations document them (the app's OpenAPI registry), read
 * the first time they are asked for, once every route is declared.
 */
export function documentedRoutes(registry: Registry): () => DocumentedRoute[] {
  let routes: DocumentedRoute[] | undefined;
  return () =>
    (routes ??= registry.definitions.flatMap((definition) => {
      if (definition.type !== "route") return [];
      const { method, path, request } = definition.route;
      const media = request?.body?.content["application/json"];
      const schema = media && "schema" in media ? media.schema : undefined;
      const body = schema && "_zod" in schema ? (schema as ZodType) : undefined;
      const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`);
      return [{ method: method.toUpperCase(), pattern, body }];
    }));
}

/** The methods of the operations at `path` (HEAD and OPTIONS are none); empty when no route has it. */
export function operationMethodsAt(routes: DocumentedRoute[], path: string): string[] {
  return [...new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method))];
}

/** The methods `path` answers, as an `Allow` header lists them; empty when no route has it. */
export function methodsAt(routes: DocumentedRoute[], path: string): string[] {
  const methods = operationMethodsAt(routes, path);
  if (methods.length === 0) return [];
  if (methods.includes("GET")) methods.push("HEAD");
  return [...new Set([...methods, "OPTIONS"])];
}
