// Stands in for @odyssey/db when the published declarations are built (tsup.config.ts): the
// router's context names the server's database handle, which no client ever sees or needs.
export type Database = never;
