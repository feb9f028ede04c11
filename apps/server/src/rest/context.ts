import type { createCaller } from "@odyssey/api";
import type { BodyLimit } from "../guards/body";

export type Caller = ReturnType<typeof createCaller>;

/**
 * `bodyLimit`: the smallest body limit applied to the request (guards/body.ts). `keyVerified`:
 * the key in its header was found and is unrevoked (guards/rate-limit.ts).
 */
export type RestEnv = { Variables: { caller: Caller; bodyLimit?: BodyLimit; keyVerified?: boolean } };
