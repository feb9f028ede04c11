import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import {
  allScopes,
  type CreatedKey,
  controlCharacterProblem,
  type DemoSeedResult,
  type KeySummary,
  publishableScopes,
  Scope,
  SeedInterruptedError,
  Slug,
} from "@odyssey/api";
import {
  DataDirLockedError,
  dataDirHolder,
  holdsEmbeddedDatabase,
  queryRows,
  refuseFileAsDataDir,
} from "@odyssey/db";
import { sql } from "drizzle-orm";
import { adminSocketPath, sendAdminCommand } from "./admin-socket";
import { dataDirLockedMessage, describeFailure, messageOf } from "./cli-errors";
import type { Command, Progress } from "./commands";
import { runCommand } from "./commands";
import { describeDatabase, openDatabase } from "./database";
import { type Config, loadConfig } from "./env";
import { progressBar } from "./progress";
import { onStopSignals } from "./stop-signals";

const usage = `Usage: odyssey <command>

  help                                      print this usage
  migrate                                   apply pending database migrations
  keys create --org <org-slug> [--scopes <s1,s2>] [--name <name>] [--publishable]
                                            create a key (and the organization if new);
                                            prints the key alone on stdout
  keys list --org <org-slug>                list an organization's keys
  keys revoke <key id>                      revoke a key at once
  seed --demo [--org <org-slug>] [--days <n>] [--replace]
                                            create a sample journey with <n> days (1-60, default 21)
                                            of realistic events (organization default: default);
                                            --replace deletes an existing one first;
                                            prints the journey's slug alone on stdout

Scopes: ${allScopes.join(", ")} (default: all; --scopes may be repeated). Publishable keys (ody_pk_…) may only write events.
The database is DATABASE_URL's, else the embedded one in ODYSSEY_DATA_DIR (default ./.odyssey).`;

class UsageError extends Error {}

const escapes: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\" };

/**
 * A name as `keys list` prints it: its control characters escaped (`\t`, `\n`, `\u0001`), so a
 * name stored with one (before they were refused) still takes one column of one line, and its
 * backslashes doubled, so a name holding the text `\t` is not read as a tab.
 */
const printableName = (name: string) =>
  name.replace(
    /[\p{Cc}\\]/gu,
    (char) => escapes[char] ?? `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );

function parseCommand(argv: string[]): Command {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    // Every value option is read as a list, so that one given twice is refused rather than the
    // last one silently taken (`keys list --org acme --org other`); only --scopes may repeat.
    options: {
      org: { type: "string", multiple: true },
      scopes: { type: "string", multiple: true },
      name: { type: "string", multiple: true },
      publishable: { type: "boolean", default: false },
      demo: { type: "boolean", default: false },
      days: { type: "string", multiple: true },
      replace: { type: "boolean", default: false },
    },
  });
  const once = (option: "org" | "name" | "days") => {
    const given = values[option];
    if (given && given.length > 1) throw new UsageError(`--${option} may be given only once`);
    return given?.[0];
  };
  const given = { org: once("org"), name: once("name"), days: once("days") };
  const [group, action, arg] = positionals;
  /** A command takes `count` words; more are refused, not ignored (a misplaced value, say). */
  const words = (count: number) => {
    if (positionals.length > count)
      throw new UsageError(`Unexpected argument: ${positionals.slice(count).join(" ")}`);
  };
  const slug = (org: string) => {
    if (!Slug.safeParse(org).success)
      throw new UsageError(
        `Organization slug "${org}" must be 1 to 100 lowercase letters, numbers, and hyphens`,
      );
    return org;
  };
  const org = () => {
    if (!given.org) throw new UsageError("--org <org-slug> is required");
    return slug(given.org);
  };
  if (group === "help") words(1);
  if (group === "migrate") {
    words(1);
    return { name: "migrate" };
  }
  if (group === "keys" && action === "create") {
    words(2);
    // Repeated --scopes add up, as a comma-separated list does.
    const scopes = values.scopes && [
      ...new Set(values.scopes.flatMap((list) => list.split(",").map((s) => s.trim()))),
    ];
    for (const scope of scopes ?? [])
      if (!Scope.safeParse(scope).success)
        throw new UsageError(`Unknown scope "${scope}"; scopes are: ${allScopes.join(", ")}`);
    if (values.publishable && scopes?.some((scope) => !publishableScopes.includes(scope as Scope)))
      throw new UsageError(`Publishable keys may only have the scopes: ${publishableScopes.join(", ")}`);
    if (given.name !== undefined && given.name.length > 255)
      throw new UsageError("--name must be at most 255 characters");
    // A tab or line break would split the name across the columns or lines of `keys list`.
    const nameProblem = given.name === undefined ? undefined : controlCharacterProblem(given.name);
    if (nameProblem) throw new UsageError(`--name ${nameProblem}`);
    return {
      name: "keys.create",
      org: org(),
      scopes: scopes as Scope[] | undefined,
      keyName: given.name,
      publishable: values.publishable,
    };
  }
  if (group === "keys" && action === "list") {
    words(2);
    return { name: "keys.list", org: org() };
  }
  if (group === "keys" && action === "revoke") {
    if (!arg) throw new UsageError("<key id> is required (odyssey keys revoke <key id>)");
    words(3);
    return { name: "keys.revoke", keyId: arg };
  }
  if (group === "seed") {
    words(1);
    if (!values.demo) throw new UsageError("seed needs --demo (the only data it makes is demo data)");
    // Decimal digits only: Number() would also read "0x10", "1e1" or a blank.
    const days = given.days === undefined ? 21 : /^\d+$/.test(given.days) ? Number(given.days) : Number.NaN;
    if (!Number.isInteger(days) || days < 1 || days > 60)
      throw new UsageError("--days must be a whole number from 1 to 60");
    return { name: "seed.demo", org: slug(given.org ?? "default"), days, replace: values.replace };
  }
  if (group === "keys")
    throw new UsageError(
      action
        ? `Unknown command: keys ${action} (keys takes create, list or revoke)`
        : "keys needs create, list or revoke",
    );
  throw new UsageError(group ? `Unknown command: ${positionals.join(" ")}` : "No command given");
}

function print(command: Command, result: unknown): void {
  switch (command.name) {
    case "migrate":
      console.error("Database is up to date.");
      return;
    case "keys.create": {
      const key = result as CreatedKey;
      if (key.orgCreated) console.error(`Created organization "${key.orgSlug}".`);
      console.error(
        `Created ${key.kind} key ${key.id} for organization "${key.orgSlug}" (${key.scopes.join(", ")}).`,
      );
      console.error("Store it now: it is shown only once.");
      console.log(key.key);
      return;
    }
    case "keys.list": {
      const keys = result as KeySummary[];
      for (const key of keys) {
        const state = key.revokedAt ? `revoked ${new Date(key.revokedAt).toISOString()}` : "active";
        console.log(
          [
            key.id,
            `${key.displayPrefix}…`,
            key.kind,
            key.scopes.join(","),
            state,
            printableName(key.name ?? ""),
          ].join("\t"),
        );
      }
      if (keys.length === 0) console.error("No keys.");
      return;
    }
    case "keys.revoke": {
      const revoked = result as { id: string; revokedAt: string; alreadyRevoked: boolean };
      console.error(
        revoked.alreadyRevoked
          ? `${revoked.id} was already revoked (${new Date(revoked.revokedAt).toISOString()}).`
          : `Revoked ${revoked.id}.`,
      );
      return;
    }
    case "seed.demo": {
      const seeded = result as DemoSeedResult;
      console.error(
        `${seeded.replaced ? "Replaced" : "Created"} journey "${seeded.journey}" in organization "${seeded.orgSlug}": ${seeded.sessions} sessions, ${seeded.events} events.`,
      );
      // A new organization has no key to read the journey with: say how to make one.
      if (seeded.orgCreated)
        console.error(
          `Organization "${seeded.orgSlug}" is new and has no API key: create one with ` +
            `pnpm odyssey keys create --org ${seeded.orgSlug}, then see its analytics: GET /api/journeys/${seeded.journey}`,
        );
      else console.error(`See its analytics: GET /api/journeys/${seeded.journey}`);
      console.log(seeded.journey);
      return;
    }
  }
}

/** Commands that only read or change what exists: on a database made for them they can only fail. */
const needsData = (command: Command) => command.name === "keys.list" || command.name === "keys.revoke";

/** Whether the database has no Odyssey tables yet (checked before migrating it). */
async function isEmpty(database: ReturnType<typeof openDatabase>): Promise<boolean> {
  const [row] = await queryRows<{ t: string | null }>(
    database.db,
    sql`select to_regclass('public.organizations')::text as t`,
  );
  return row?.t === null;
}

/** How long a command waits for a server that is starting on the embedded database. */
const SERVER_START_WAIT_MS = 5000;

/**
 * A server starting on the embedded database holds its folder a moment before its admin socket
 * listens, and a killed server leaves its socket file behind: until the new one listens, the
 * folder is held (or being taken over) and the socket refuses. Nothing has run then, so the
 * command is tried again, for a few seconds, before the error is shown.
 */
async function execute(command: Command, progress: Progress): Promise<unknown> {
  const config = loadConfig();
  const deadline = Date.now() + SERVER_START_WAIT_MS;
  for (;;) {
    try {
      return await executeOnce(config, command, progress);
    } catch (error) {
      if (config.databaseUrl || !isServerStarting(error) || Date.now() >= deadline) throw error;
      await sleep(200);
    }
  }
}

/** The folder is held, or its admin socket refused the connection (nothing was sent). */
function isServerStarting(error: unknown): boolean {
  if (error instanceof DataDirLockedError) return true;
  const { code, syscall } = error as NodeJS.ErrnoException;
  return syscall === "connect" && (code === "ECONNREFUSED" || code === "ENOENT");
}

/** The command, sent to the process holding the embedded database when one does, else run here. */
function executeOnce(config: Config, command: Command, progress: Progress): Promise<unknown> {
  const holder = config.databaseUrl ? null : dataDirHolder(config.dataDir);
  return holder === null
    ? runHere(config, command, progress)
    : sendToServer(config, holder, command, progress);
}

/** Sends the command to the server holding the embedded database, through its admin socket. */
async function sendToServer(config: Config, holder: number, command: Command, progress: Progress) {
  if (!existsSync(adminSocketPath(config.dataDir))) throw new DataDirLockedError(config.dataDir, holder);
  // Closing the socket does not stop the command in the server: say so rather than exit silently.
  const interrupted = () => {
    console.error(
      `${process.stderr.isTTY ? "\n" : ""}odyssey: interrupted; the server carries on with the command (Ctrl-C does not cancel it there)`,
    );
    process.exit(130);
  };
  process.once("SIGINT", interrupted).once("SIGTERM", interrupted);
  try {
    return await sendAdminCommand(config.dataDir, command, progress);
  } finally {
    process.off("SIGINT", interrupted).off("SIGTERM", interrupted);
  }
}

/** A signal came while the database opened or migrated: the command did not run. */
class InterruptedBeforeRunningError extends Error {
  constructor() {
    super("interrupted before the command ran");
  }
}

/** Runs the command on this process's own connection to the database. */
async function runHere(config: Config, command: Command, progress: Progress): Promise<unknown> {
  // Run from another directory, the default ./.odyssey names a folder that is not the server's:
  // say so rather than answer from (or write to) a database made on the spot.
  if (!config.databaseUrl) refuseFileAsDataDir(config.dataDir);
  const newFolder = !config.databaseUrl && !holdsEmbeddedDatabase(config.dataDir);
  if (newFolder && needsData(command))
    throw new Error(
      `No embedded database at ${config.dataDir}: run the command in the folder the server was started in, start the server first (pnpm start), or set ODYSSEY_DATA_DIR or DATABASE_URL`,
    );
  // Ctrl-C (or SIGTERM) stops a long command where it can stop cleanly (the seed, between
  // batches), so the database is closed, not cut off; a second Ctrl-C, a second or more later,
  // exits at once. The handlers hold from before the database opens until it is closed: a signal
  // while it opens, migrates or closes would otherwise end the process there, a finished
  // command's answer unprinted.
  const stop = new AbortController();
  const removeHandlers = onStopSignals(
    () => stop.abort(),
    (signal) => process.exit(signal === "SIGINT" ? 130 : 143),
  );
  try {
    const database = openDatabase(config);
    try {
      const empty = newFolder || (config.databaseUrl !== undefined && (await isEmpty(database)));
      await database.migrate();
      if (empty)
        console.error(
          newFolder
            ? `Created a new embedded database in ${config.dataDir}.`
            : `Set up Odyssey's tables in an empty database: ${describeDatabase(config)}.`,
        );
      if (stop.signal.aborted) throw new InterruptedBeforeRunningError();
      return await runCommand(database, command, progress, stop.signal);
    } finally {
      await database.close();
    }
  } finally {
    removeHandlers();
  }
}

function configOrNothing(): Config | undefined {
  try {
    return loadConfig();
  } catch {
    return undefined;
  }
}

/** Node's words for an unknown option end in an unbalanced quote: said plainly instead. */
function usageProblem(error: Error): string {
  const unknown = /^Unknown option '([^']*)'/.exec(error.message);
  return unknown ? `Unknown option: ${unknown[1]}` : error.message;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    console.error(usage);
    return 2;
  }
  if ((argv[0] === "help" && argv.length === 1) || argv.includes("--help") || argv.includes("-h")) {
    console.log(usage);
    return 0;
  }
  try {
    const command = parseCommand(argv);
    print(command, await execute(command, progressBar()));
    return 0;
  } catch (error) {
    const badArguments =
      error instanceof TypeError &&
      String((error as NodeJS.ErrnoException).code).startsWith("ERR_PARSE_ARGS");
    if (error instanceof UsageError || badArguments) {
      console.error(`odyssey: ${usageProblem(error)}\n\n${usage}`);
      return 2;
    }
    if (error instanceof SeedInterruptedError || error instanceof InterruptedBeforeRunningError) {
      console.error(`${process.stderr.isTTY ? "\n" : ""}odyssey: ${error.message}`);
      return 130;
    }
    const message =
      error instanceof DataDirLockedError
        ? dataDirLockedMessage(error, "which does not answer commands")
        : (describeFailure(error, configOrNothing()) ?? messageOf(error));
    console.error(`odyssey: ${message}`);
    return 1;
  }
}
