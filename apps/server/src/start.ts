import { bootstrapDefaultKey } from "@odyssey/api";
import { serveAdminSocket } from "./admin-socket";
import { createApp } from "./app";
import { describeFailure, messageOf, stackOf } from "./cli-errors";
import { describeDatabase, openDatabase } from "./database";
import { type Config, loadConfig } from "./env";
import { listen } from "./http";
import { createLogger } from "./logger";
import type { StopSignals } from "./stop-signals";

/** The configuration, once it has loaded: a failure after that is described in its terms. */
let loaded: Config | undefined;

/** Why the start failed, in one line naming what to change; the stack only at LOG_LEVEL debug or trace. */
export function reportStartFailure(error: unknown): void {
  const known = describeFailure(error, loaded);
  console.error(`odyssey: ${known ?? `failed to start: ${messageOf(error)}`}`);
  if (loaded?.logLevel === "debug" || loaded?.logLevel === "trace") {
    const stack = stackOf(error);
    if (stack) console.error(stack);
  }
}

export async function start(signals: StopSignals): Promise<void> {
  const config = loadConfig();
  loaded = config;
  const logger = createLogger(config.logLevel);

  // A signal may come at any moment, startup included: it then stops the start at its next step,
  // closing what is open (the data folder's lock with the database), rather than killing the
  // process with the lock held. Once serving, `shutDown` answers the requests in flight first.
  let stopSignal: string | undefined;
  let shutDown: (() => Promise<void>) | undefined;
  const onSignal = (signal: string) => {
    stopSignal = signal;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error("requests still running at the shutdown deadline: exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    if (shutDown) void shutDown();
  };
  const stopped = () => {
    logger.info("stopped");
    process.exit(0);
  };
  // A signal that came while the server loaded is heard here, at once.
  signals.handle(onSignal, (signal) => {
    logger.warn({ signal }, "second signal: exiting at once");
    process.exit(1);
  });
  if (stopSignal) return stopped();

  const database = openDatabase(config);
  await database.migrate();
  if (stopSignal) return database.close().then(stopped);

  // Readiness fails from the signal on.
  const isAccepting = () => stopSignal === undefined;
  const app = createApp({ database, config, logger, isAccepting });
  const address = { port: config.port, host: config.host };
  const { port, close } = await listen(app.fetch, config, address, { logger, isAccepting });
  if (stopSignal) return Promise.all([close(), database.close()]).then(stopped);
  // Only once the server listens: a start that fails on a busy PORT or a bad HOST would use up
  // the key printed into its failure, and later starts print none.
  const firstKey = await bootstrapDefaultKey(database.db);
  if (firstKey) {
    // Shown once, so a new user can call the API at once; only its hash is stored. Printed even
    // when a signal came meanwhile: the key exists now.
    process.stdout.write(
      `\nCreated organization "default" and an API key with every scope. It is shown only once:\n\n    ${firstKey.key}\n\n`,
    );
  }
  logger.info({ port, host: config.host, database: describeDatabase(config) }, "listening");
  const admin =
    database.kind === "pglite" ? await serveAdminSocket(config.dataDir, database, logger) : undefined;

  shutDown = async () => {
    // Stops accepting connections and resolves once requests and admin commands in flight have
    // been answered.
    await Promise.all([close(), admin?.close()]);
    await database.close();
    stopped();
  };
  if (stopSignal) await shutDown();
}
