import { z } from "zod";
import { ForbiddenError } from "../errors";

export const allScopes = ["journeys:read", "journeys:write", "events:write"] as const;
/** The scope names as a plain union: its declaration needs no zod (procedure meta names it). */
export type ScopeName = (typeof allScopes)[number];
export const Scope = z.enum(allScopes);
export type Scope = z.infer<typeof Scope>;

/** Publishable keys live in browsers: they may only send events. */
export const publishableScopes: readonly Scope[] = ["events:write"];

/** Throws the 403 every procedure answers when the caller's key lacks `scope`. */
export function requireScope(key: { scopes: readonly Scope[] }, scope: Scope): void {
  if (!key.scopes.includes(scope)) throw new ForbiddenError(`API key does not have required scope: ${scope}`);
}
