export {
  DataDirFullError,
  DataDirIsAFileError,
  holdsEmbeddedDatabase,
  NotADataDirError,
  refuseFileAsDataDir,
} from "./data-folder";
export * from "./database";
export * from "./ids";
export * from "./lock";
export { UnknownMigrationsError } from "./migrations";
export * from "./rows";
export * from "./schema";
