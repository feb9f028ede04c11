export * from "./database";
export * from "./ids";
export * from "./lock";
export * from "./schema";
