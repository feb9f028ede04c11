import type { Server } from "node:net";
import { serve } from "@hono/node-server";
import { bootstrapDefaultKey } from "@odyssey/api";
import { serveAdminSocket } from "./admin-socket";
import { createApp } from "./app";
import { describeDatabase, openDatabase } from "./database";
import { ConfigError, loadConfig } from "./env";
import { createLogger } from "./logger";

async function start() {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const database = openDatabase(config);
  await database.migrate();

  const firstKey = await bootstrapDefaultKey(database.db);
  if (firstKey) {
    // Shown once, so a new user can call the API at once; only its hash is stored.
    process.stdout.write(
      `\nCreated organization "default" and an API key with every scope. It is shown only once:\n\n    ${firstKey.key}\n\n`,
    );
  }

  let accepting = true;
  const app = createApp({ database, config, logger, isAccepting: () => accepting });
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    logger.info({ port: info.port, host: config.host, database: describeDatabase(config) }, "listening");
  }) as Server;
  const admin =
    database.kind === "pglite" ? await serveAdminSocket(config.dataDir, database, logger) : undefined;

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    stopping = true;
    accepting = false;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error("requests still running at the shutdown deadline: exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    admin?.close();
    // Stops accepting connections and resolves once requests in flight have been answered.
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    });
    await database.close();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

start().catch((error) => {
  if (error instanceof ConfigError) console.error(`odyssey: ${error.message}`);
  else console.error("odyssey: failed to start:", error);
  process.exit(1);
});
