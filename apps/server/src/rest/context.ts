import type { createCaller } from "@odyssey/api";
import type { RequestIdVariables } from "hono/request-id";
import type { BodyLimit } from "../guards/body";

export type Caller = ReturnType<typeof createCaller>;

/** `bodyLimit`: the smallest body limit applied to the request (guards/body.ts). */
export type RestEnv = { Variables: RequestIdVariables & { caller: Caller; bodyLimit?: BodyLimit } };
