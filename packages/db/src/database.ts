import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { type SQL, sql } from "drizzle-orm";
import type { PgDatabase, PgDialect, PgQueryResultHKT, PgSession } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import {
  explainOpenFailure,
  finishUnpacking,
  holdsEmbeddedDatabase,
  keepDatabaseToOwner,
  refuseForeignFolder,
  unpackDatabase,
} from "./data-folder";
import { lockDataDir } from "./lock";
import { refuseUnknownMigrations } from "./migrations";
import * as schema from "./schema";

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** A database or a transaction: anything queries can run on. */
export type Queryable = Pick<Database, "select" | "insert" | "update" | "delete" | "execute" | "transaction">;

export type DatabaseKind = "postgres" | "pglite";

/** As libpq's sslmode: none, TLS if the server has it, TLS, TLS with the server's name verified. */
export type TlsMode = "disable" | "prefer" | "require" | "verify-full";

export interface DatabaseOptions {
  /** `postgres://…`: a real server. Absent: the embedded PGlite database. */
  url?: string;
  /** Where PGlite keeps its files; absent (and no url): in memory. */
  dataDir?: string;
  /** postgres.js pool size. */
  maxConnections?: number;
  /**
   * TLS to the server, given to the driver, which then reads no TLS setting of its own (from the
   * URL or PGSSL). Absent: the driver's own reading.
   */
  tls?: TlsMode;
  /**
   * A new embedded database starts as a copy of this archive (see writePgliteTemplate) when
   * the file exists, instead of creating its cluster from nothing, which takes seconds.
   */
  template?: string;
}

export interface DatabaseHandle {
  db: Database;
  kind: DatabaseKind;
  /** Applies pending migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** True when the database answers a trivial query within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
/** Resolved through the package name, so it holds from source and from a bundle alike. */
export const migrationsFolder = join(dirname(require.resolve("@odyssey/db/package.json")), "drizzle");

// Any constant works: it only has to be the same for every Odyssey process.
const MIGRATION_LOCK_ID = 727_001;

export function createDatabase(options: DatabaseOptions = {}): DatabaseHandle {
  return options.url
    ? createPostgres(options.url, options.maxConnections ?? 10, options.tls)
    : createPglite(options.dataDir, options.template);
}

/**
 * Settings of every session of the service, on either engine (and of the benchmarks' baseline,
 * so that it plans the same SQL alike). Each request's queries read a journey's rows by index;
 * two planner settings keep the planner from plans that read far more:
 * - No parallel query: starting workers costs milliseconds. The planner chose a parallel plan for
 *   Retrieve's funnel on a journey with 100 thousand sessions (8.6 ms instead of 1.8 ms; fix 24 in
 *   docs/benchmarks.md). PGlite has no parallel query anyway.
 * - A page read at random costs about what a sequential one does (the pages are in memory or on
 *   SSD), not four times as much. At 4, once a busy journey made another journey's recent
 *   sessions look like a quarter of the table, Retrieve read every session of every journey
 *   instead of that journey's by index (20–30 ms instead of 1–2; fix 31).
 * The others hold what the service relies on whatever the database or its role sets by default
 * (a startup parameter overrides both):
 * - Dates in ISO form: the driver reads `timestamptz` text as ISO 8601. Under `DateStyle` SQL or
 *   German every time in an answer was null.
 * - Read committed: the ingestion's upserts wait for a concurrent batch's row and then update it.
 *   Under a default of repeatable read or serializable, most concurrent batches of one journey
 *   failed with a serialization error. Retrieve sets its own level.
 * - Floats written exactly (the shortest form that reads back the same on Postgres 12 and later,
 *   enough digits for that before), whatever `extra_float_digits` the database sets.
 * As text: postgres.js leaves out startup parameters whose value is falsy.
 */
export const SESSION_SETTINGS = {
  max_parallel_workers_per_gather: "0",
  random_page_cost: "1.1",
  datestyle: "ISO, MDY",
  default_transaction_isolation: "read committed",
  extra_float_digits: "3",
} as const;

function createPostgres(url: string, maxConnections: number, tls: TlsMode | undefined): DatabaseHandle {
  const ssl = tls === undefined ? {} : { ssl: tls === "disable" ? false : tls };
  const client = postgres(url, {
    ...ssl,
    max: maxConnections,
    onnotice: () => {},
    // Fail fast and retry quickly, so a short outage ends for callers soon after the database returns.
    connect_timeout: 2,
    backoff: (attempt) => Math.min(0.05 * 2 ** attempt, 0.5),
    idle_timeout: 30,
    connection: { application_name: "odyssey", ...SESSION_SETTINGS },
  });
  const db = drizzlePostgres(preparing(client), { schema }) as unknown as Database;
  return {
    db,
    kind: "postgres",
    async migrate() {
      // One connection, so the session lock covers every statement the migrator sends.
      const single = postgres(url, { ...ssl, max: 1, onnotice: () => {}, connect_timeout: 5 });
      try {
        await single`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        await refuseUnknownMigrations((text) => single.unsafe(text), migrationsFolder);
        await migratePostgres(drizzlePostgres(single, { schema }), { migrationsFolder });
      } finally {
        await single.end({ timeout: 5 });
      }
    },
    ping: (timeoutMs) => ping(db, timeoutMs),
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * Drizzle runs its queries unprepared, which postgres.js sends as two round trips (describe,
 * then execute). Prepared, each query is one round trip once a connection has seen its text;
 * postgres.js keeps the statements per connection, keyed by that text.
 */
function preparing<T extends postgres.Sql | postgres.TransactionSql>(sql: T): T {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property === "unsafe")
        return (
          query: string,
          params?: postgres.ParameterOrJSON<never>[],
          options?: postgres.UnsafeQueryOptions,
        ) => target.unsafe(query, params, { ...options, prepare: true });
      if (property === "begin" || property === "savepoint")
        return (...args: unknown[]) => {
          const callback = args.pop() as (tx: postgres.TransactionSql) => unknown;
          const run = (target as unknown as Record<string, (...a: unknown[]) => unknown>)[property];
          return run?.call(target, ...args, (tx: postgres.TransactionSql) => callback(preparing(tx)));
        };
      return Reflect.get(target, property, receiver);
    },
  });
}

function createPglite(folder?: string, template?: string): DatabaseHandle {
  // PGlite cannot open a database through a folder that is a symlink: it opens the target.
  const dataDir = folder && existsSync(folder) ? realpathSync(folder) : folder;
  if (dataDir) refuseForeignFolder(dataDir);
  const unlock = dataDir ? takeFolder(dataDir, template) : () => {};
  const client = new PGlite(dataDir);
  const opened = client.waitReady.then(() => {
    if (dataDir) keepDatabaseToOwner(dataDir);
  });
  opened.catch(() => {}); // reported by migrate(), which every start runs
  // PGlite is one session and runs its calls in order: set before any other runs. A failure
  // here means the database did not open, which every later call reports.
  client
    .exec(
      Object.entries(SESSION_SETTINGS)
        .map(([name, value]) => `set ${name} = '${value}';`)
        .join("\n"),
    )
    .catch(() => {});
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    async migrate() {
      try {
        await opened;
        const query = async (text: string) => (await client.query<Record<string, unknown>>(text)).rows;
        await refuseUnknownMigrations(query, migrationsFolder);
        await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder });
      } catch (error) {
        // PGlite reports a full disk or a file it may not write only as "Aborted()" or "failed to
        // initialize properly": say which, when the folder shows it.
        const unexplained = /Aborted\(\)|failed to initialize/.test(String((error as Error)?.message));
        throw (dataDir && unexplained && explainOpenFailure(dataDir)) || error;
      }
    },
    ping: (timeoutMs) => ping(db, timeoutMs),
    async close() {
      try {
        // A database that never opened has nothing to close, and closing it would throw in
        // place of the error that says why it did not open.
        const didOpen = await opened.then(
          () => true,
          () => false,
        );
        if (didOpen) await client.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * Takes the folder's lock, finishes what a new database's unpacking left undone, and unpacks
 * `template` when the folder holds no database yet (without one, PGlite creates the cluster
 * itself, as when running from source). A full disk is said as such rather than as the write
 * that failed.
 */
function takeFolder(dataDir: string, template: string | undefined): () => void {
  try {
    const unlock = lockDataDir(dataDir);
    try {
      finishUnpacking(dataDir);
      if (!holdsEmbeddedDatabase(dataDir) && template !== undefined && existsSync(template))
        unpackDatabase(readFileSync(template), dataDir);
      return unlock;
    } catch (error) {
      unlock();
      throw error;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOSPC") throw explainOpenFailure(dataDir) ?? error;
    throw error;
  }
}

/**
 * Writes a gzipped, migrated, empty PGlite data folder to `path`: the template new embedded
 * databases start from. Migrations newer than the template are still applied at start.
 */
export async function writePgliteTemplate(path: string): Promise<void> {
  const client = new PGlite();
  try {
    await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder });
    const archive = await client.dumpDataDir("gzip");
    writeFileSync(path, Buffer.from(await archive.arrayBuffer()));
  } finally {
    await client.close();
  }
}

async function ping(db: Database, timeoutMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([db.execute(sql`select 1`).then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Rows of a raw query, whichever driver ran it (postgres.js answers an array, PGlite `{ rows }`). */
export async function queryRows<T extends Record<string, unknown>>(db: Queryable, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
}

/**
 * A raw SQL statement compiled once (inputs as `sql.placeholder()`s), for statements too large to
 * rebuild on every call: drizzle's builders have `.prepare()`, raw SQL does not. It goes through
 * the database's own session, as `db.execute` does, and the driver prepares it per connection.
 */
export function prepareSql<T extends Record<string, unknown>>(
  db: Database,
  query: SQL,
): { execute(values: Record<string, unknown>): Promise<T[]> } {
  const { dialect, session } = db as unknown as { dialect: PgDialect; session: PgSession };
  const prepared = session.prepareQuery(dialect.sqlToQuery(query), undefined, undefined, false);
  return {
    async execute(values) {
      const result = (await prepared.execute(values)) as T[] | { rows: T[] };
      return Array.isArray(result) ? result : result.rows;
    },
  };
}

/** An error and the causes it wraps, four deep at most (drizzle wraps driver errors in `cause`). */
function* causeChain(error: unknown): Generator<Record<string, unknown>> {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    yield current as Record<string, unknown>;
    current = (current as { cause?: unknown }).cause;
  }
}

/** The Postgres error code behind a driver error. */
export function pgErrorCode(error: unknown): { code?: string; constraint?: string } {
  for (const candidate of causeChain(error)) {
    if (typeof candidate.code === "string" && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      const constraint = candidate.constraint_name ?? candidate.constraint;
      return { code: candidate.code, constraint: typeof constraint === "string" ? constraint : undefined };
    }
  }
  return {};
}

// Node socket errors (a DNS lookup that failed for now, EAI_AGAIN, among them), postgres.js
// connection errors, SQLSTATE class 08 (connection exception), the server refusing work while it
// shuts down, starts or is full, and the database being gone.
const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01",
  "57P02",
  "57P03",
  "53300",
  "3D000",
]);

/**
 * SQLSTATEs of a database that answers but cannot complete the request now, which may succeed
 * when sent again: it takes no writes (a standby, or read-only for maintenance), it cancelled the
 * statement (a `statement_timeout`, or an administrator), it gave up waiting for a lock
 * (`lock_timeout`), or it ended the transaction to resolve a deadlock or a serialization
 * conflict. Class 53 (out of disk, memory or connections) is matched whole.
 */
const busyCodes = new Set(["25006", "40001", "40P01", "55P03", "57014"]);

/** True when the database answered that it cannot complete the request now (`busyCodes`). */
export function isDatabaseBusy(error: unknown): boolean {
  const { code } = pgErrorCode(error);
  return code !== undefined && (busyCodes.has(code) || code.startsWith("53"));
}

/**
 * A session that ended under a query (an administrator's pg_terminate_backend, a server shutting
 * down, a reset socket) while the pool held it, rather than a database that cannot be reached:
 * a new session may well succeed. Not the pool's own closing (CONNECTION_ENDED, _DESTROYED).
 */
const lostSessionCodes = new Set(["CONNECTION_CLOSED", "ECONNRESET", "EPIPE", "57P01", "57P02"]);

/** True when the query failed because its session ended under it (`lostSessionCodes`). */
export function isLostSession(error: unknown): boolean {
  for (const { code } of causeChain(error))
    if (typeof code === "string" && lostSessionCodes.has(code)) return true;
  return false;
}

/** True when the error says the database could not be reached, rather than that a query failed. */
export function isConnectionError(error: unknown): boolean {
  for (const { code, message } of causeChain(error)) {
    if (typeof code === "string" && (connectionErrorCodes.has(code) || code.startsWith("08"))) return true;
    if (message === "PGlite is closed") return true;
    // 55000 is a generic state error; at connect time it means the database refuses connections.
    if (
      code === "55000" &&
      typeof message === "string" &&
      message.includes("not currently accepting connections")
    )
      return true;
  }
  return false;
}
