export { createOdysseyClient, type OdysseyClient, type OdysseyClientOptions } from "./client";
export { OdysseyError, type OdysseyErrorCode } from "./errors";
export type { FetchInit, FetchLike, FetchResponse } from "./fetch";
export type * from "./types";
