import type { createCaller } from "@odyssey/api";
import type { RequestIdVariables } from "hono/request-id";

export type Caller = ReturnType<typeof createCaller>;

export type RestEnv = { Variables: RequestIdVariables & { caller: Caller } };
