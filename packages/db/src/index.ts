export { DataDirFullError, holdsEmbeddedDatabase, NotADataDirError } from "./data-folder";
export * from "./database";
export * from "./ids";
export * from "./lock";
export { UnknownMigrationsError } from "./migrations";
export * from "./rows";
export * from "./schema";
