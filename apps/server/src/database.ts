import { createDatabase, type DatabaseHandle } from "@odyssey/db";
import type { Config } from "./env";

/** The database the configuration names: Postgres when DATABASE_URL is set, else the embedded one. */
export function openDatabase(config: Config): DatabaseHandle {
  return config.databaseUrl
    ? createDatabase({ url: config.databaseUrl, maxConnections: config.poolSize })
    : createDatabase({ dataDir: config.dataDir });
}

export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `embedded database in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  return `Postgres at ${url.hostname}:${url.port || 5432}${url.pathname}`;
}
