import { maxLengthAt } from "@odyssey/api";
import type { Context } from "hono";
import type { DocumentedRoute } from "../rest/route-table";
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

/**
 * For REST: the JSON body schema of the documented route the request matches (`routes`, read
 * from the routes' own declarations).
 */
export function restFieldMaxLength(routes: () => DocumentedRoute[]): FieldMaxLength {
  return (c, path) => {
    const method = c.req.method;
    const route = routes().find(
      (candidate) => candidate.method === method && candidate.pattern.test(c.req.path),
    );
    return route?.body && maxLengthAt(route.body, path);
  };
}
