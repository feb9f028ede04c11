export type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
export * from "./analytics/schema";
export * from "./auth/keys";
export * from "./auth/scopes";
export type * from "./context";
export * from "./demo/seed";
export * from "./errors";
export * from "./events/device";
export * from "./events/preflight";
export * from "./events/schema";
export * from "./journeys/schema";
export * from "./keys/operations";
export * from "./router";
export * from "./snapshots/schema";
export { deserializeInput } from "./superjson-input";
export { controlCharacterProblem } from "./text";
export {
  internalErrorMessage,
  knownTRPCError,
  MAX_TRPC_BATCH_CALLS,
  type ProcedureMeta,
} from "./trpc";
export * from "./validation";
