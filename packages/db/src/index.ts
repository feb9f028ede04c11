export { DataDirFullError, holdsEmbeddedDatabase, NotADataDirError } from "./data-folder";
export * from "./database";
export * from "./ids";
export * from "./lock";
export * from "./rows";
export * from "./schema";
