import {
  DataDirFullError,
  DataDirIsAFileError,
  DataDirLockedError,
  DataDirNotWritableError,
  NotADataDirError,
  type TlsMode,
  UnknownMigrationsError,
} from "@odyssey/db";
import { type Config, ConfigError, tlsSettingOf } from "./env";
import { queryParametersLine, redactParameters } from "./logger";

// What the server's start and the CLI print when they cannot do their work: one sentence naming
// the setting to change, for the failures an operator causes and can fix; the error's own
// message, without its stack, for the rest.

type Where = Pick<Config, "port" | "host" | "databaseUrl"> & Partial<Pick<Config, "databaseTls">>;

interface SystemError {
  code?: unknown;
  syscall?: unknown;
  hostname?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error and what it wraps (causes, an AggregateError's errors), outermost first. */
function chain(error: unknown, depth = 0): SystemError[] {
  if (!error || typeof error !== "object" || depth > 5) return [];
  const e = error as SystemError;
  const inner = Array.isArray(e.errors) ? e.errors : [];
  return [e, ...chain(e.cause, depth + 1), ...inner.flatMap((x) => chain(x, depth + 1))];
}

/** The embedded database's folder is held by another process; `why` says what that means here. */
export function dataDirLockedMessage(error: DataDirLockedError, why?: string): string {
  return `${error.message}${why ? `, ${why}` : ""}. Stop that process and run this again, or set DATABASE_URL to use Postgres.`;
}

function urlOf(databaseUrl: string | undefined): URL | undefined {
  try {
    return databaseUrl ? new URL(databaseUrl) : undefined;
  } catch {
    return undefined;
  }
}

/** `Postgres at host:port`, from DATABASE_URL (never its user or password). */
function postgresAt(url: URL | undefined): string {
  return url ? `Postgres at ${url.hostname || "localhost"}:${url.port || 5432}` : "Postgres";
}

/** The setting that asked for TLS, as written, and what to set instead. */
function askedForTls(url: URL, mode: TlsMode | undefined): { asked: string; instead: string } {
  // With the URL naming no mode, the mode in force is PGSSL's (one that asks for TLS).
  const named = tlsSettingOf(url.href, mode ?? "require");
  switch (named.setting) {
    case "sslrootcert":
      return { asked: "sslrootcert=system in DATABASE_URL", instead: "correct DATABASE_URL" };
    case "sslmode":
    case "ssl":
      return {
        asked: `${named.setting}=${named.mode} in DATABASE_URL`,
        instead: `set ${named.setting}=disable (or prefer) in DATABASE_URL`,
      };
    default:
      return { asked: `PGSSL=${named.mode}`, instead: "set PGSSL to disable (or prefer)" };
  }
}

/** The TLS handshake cut short: the server answered the TLS request with no (Postgres without TLS). */
const isTlsRefused = (e: SystemError, code: string) =>
  code === "ECONNRESET" && String(e.message).includes("before secure TLS connection was established");

/** The sentence for a failure the operator can fix by changing a setting, or undefined. */
export function describeFailure(error: unknown, where?: Where): string | undefined {
  if (error instanceof ConfigError) return error.message;
  if (error instanceof DataDirLockedError) return dataDirLockedMessage(error);
  if (
    error instanceof DataDirNotWritableError ||
    error instanceof NotADataDirError ||
    error instanceof DataDirIsAFileError ||
    error instanceof DataDirFullError ||
    error instanceof UnknownMigrationsError
  )
    return error.message;
  const databaseUrl = urlOf(where?.databaseUrl);
  for (const e of chain(error)) {
    const code = typeof e.code === "string" ? e.code : undefined;
    if (!code || !where) continue;
    if (e.syscall === "listen") {
      const address = `port ${where.port} on ${where.host}`;
      if (code === "EADDRINUSE") return `${address} is already in use; set PORT to another port`;
      if (code === "EACCES")
        return `${address} may not be used by this user; set PORT to a port from 1024 up`;
      if (code === "EADDRNOTAVAIL")
        return `HOST ${where.host} is not an address of this machine; set HOST to one of its addresses, or 0.0.0.0 for all`;
    }
    if ((code === "ENOTFOUND" || code === "EAI_AGAIN") && e.syscall === "getaddrinfo") {
      if (databaseUrl && e.hostname === databaseUrl.hostname)
        return `cannot connect to Postgres: host "${e.hostname}" was not found; correct DATABASE_URL`;
      if (e.hostname === where.host)
        return `HOST ${where.host} was not found; set HOST to an address of this machine, or 0.0.0.0 for all`;
    }
    // Only the database is connected to: with DATABASE_URL unset, these are not about Postgres.
    if (!where.databaseUrl) continue;
    const postgres = postgresAt(databaseUrl);
    if (code === "ECONNREFUSED")
      return `cannot connect to ${postgres}: connection refused; start Postgres or correct DATABASE_URL`;
    if (isTlsRefused(e, code) && databaseUrl && where.databaseTls !== "disable") {
      const { asked, instead } = askedForTls(databaseUrl, where.databaseTls);
      return `cannot connect to ${postgres}: the server did not accept TLS, which ${asked} asks for; enable TLS on the server, or ${instead}`;
    }
    if (code === "ETIMEDOUT" || code === "CONNECT_TIMEOUT")
      return `cannot connect to ${postgres}: no answer in time; check that it is reachable or correct DATABASE_URL`;
    if (code === "3D000")
      return `${String(e.message)} on ${postgres}; create it or set DATABASE_URL to an existing database`;
    if (code === "28P01" || code === "28000")
      return `${postgres} refused the login: ${String(e.message)}; correct the user or password in DATABASE_URL`;
  }
  return undefined;
}

/**
 * An error's message without what it must not show: database errors quote their query and its
 * parameters (drizzle: "Failed query: … params: …"), which may be a key's hash. The query says
 * nothing an operator can act on, so only that a query failed is kept, with its cause.
 */
export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return plainMessageOf(error);
  const message = error.message.startsWith("Failed query: ")
    ? "a database query failed"
    : error.message
        .replace(queryParametersLine, "")
        .replace(/\s*\n\s*/g, " ")
        .trim();
  const cause = error.cause instanceof Error ? messageOf(error.cause) : "";
  return cause && !message.includes(cause) ? `${message}: ${cause}` : message;
}

/**
 * What a thrown non-Error says: its `message` when it has one (the embedded database's runtime
 * throws such objects, such as its exit status), else its JSON, never "[object Object]".
 */
function plainMessageOf(thrown: unknown): string {
  if (typeof thrown !== "object" || thrown === null) return String(thrown);
  const { message } = thrown as { message?: unknown };
  if (typeof message === "string" && message !== "") return messageOf(new Error(message));
  try {
    return JSON.stringify(thrown) ?? String(thrown);
  } catch {
    return String(thrown);
  }
}

/** The stack, for LOG_LEVEL debug or trace, with query parameters cut as in messageOf. */
export function stackOf(error: unknown): string | undefined {
  if (!(error instanceof Error) || !error.stack) return undefined;
  const stack = redactParameters(error.stack);
  const cause = error.cause instanceof Error ? stackOf(error.cause) : undefined;
  return cause ? `${stack}\nCaused by: ${cause}` : stack;
}
