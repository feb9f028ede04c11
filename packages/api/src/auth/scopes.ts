import { z } from "zod";

export const allScopes = ["journeys:read", "journeys:write", "events:write"] as const;
/** The scope names as a plain union: its declaration needs no zod (procedure meta names it). */
export type ScopeName = (typeof allScopes)[number];
export const Scope = z.enum(allScopes);
export type Scope = z.infer<typeof Scope>;

/** Publishable keys live in browsers: they may only send events. */
export const publishableScopes: readonly Scope[] = ["events:write"];
