import { z } from "zod";

export const Scope = z.enum(["journeys:read", "journeys:write", "events:write"]);
export type Scope = z.infer<typeof Scope>;
export const allScopes = Scope.options;

/** Publishable keys live in browsers: they may only send events. */
export const publishableScopes: readonly Scope[] = ["events:write"];
