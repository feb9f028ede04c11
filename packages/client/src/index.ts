export { createOdysseyClient, type OdysseyClient, type OdysseyClientOptions } from "./client";
export { OdysseyError, type OdysseyErrorCode } from "./errors";
export type { FetchLike } from "./fetch";
export type * from "./types";
