import { appRouter, type ProcedureMeta, type Scope } from "@odyssey/api";
import type { ZodType } from "zod";

// Typed as a nested record, but at run time keyed by dotted path ("journeys.create").
const procedures = appRouter._def.procedures as unknown as Record<
  string,
  { _def: { meta?: ProcedureMeta; inputs?: ZodType[] } } | undefined
>;

/**
 * The OpenAPI security requirement of a route that calls `procedure`: a bearer key holding the
 * scope the procedure itself declares, so the document cannot drift from what is enforced.
 */
export function bearerWithScopeOf(procedure: string) {
  const found = procedures[procedure];
  if (!found) throw new Error(`No tRPC procedure ${procedure}`);
  const scope = found._def.meta?.scope;
  return [{ bearerAuth: scope ? [scope] : [] }];
}

/** The scope the procedure named `procedure` requires (undefined: none, or no such procedure). */
export function scopeOfProcedure(procedure: string): Scope | undefined {
  return procedures[procedure]?._def.meta?.scope;
}

/** The input schema the procedure named `procedure` validates (undefined: none, or no such one). */
export function inputOfProcedure(procedure: string): ZodType | undefined {
  const inputs = procedures[procedure]?._def.inputs;
  return inputs?.length === 1 ? inputs[0] : undefined;
}
