import { fileURLToPath } from "node:url";
import { createDatabase, type DatabaseHandle } from "@odyssey/db";
import type { Config } from "./env";

/** Written beside the bundle by the build (pglite-template.ts); absent when running from source. */
const pgliteTemplate = fileURLToPath(new URL("./pglite-template.tar.gz", import.meta.url));

/** The database the configuration names: Postgres when DATABASE_URL is set, else the embedded one. */
export function openDatabase(config: Config): DatabaseHandle {
  return config.databaseUrl
    ? createDatabase({ url: config.databaseUrl, maxConnections: config.poolSize, tls: config.databaseTls })
    : createDatabase({ dataDir: config.dataDir, template: pgliteTemplate });
}

export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `embedded database in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  return `Postgres at ${url.hostname}:${url.port || 5432}${url.pathname}`;
}
