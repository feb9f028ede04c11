import { join, resolve } from "node:path";
import type { TlsMode } from "@odyssey/db";
import { z } from "zod";

// Every setting the server and the CLI read from the environment, validated here and nowhere else.

/**
 * A number written in decimal digits, within [min, max]; with `fraction`, digits after a point
 * too. Not z.coerce: Number() reads " " as 0 (which turned a rate limit off, or PORT to a random
 * one) and takes `0x1F90` or `1e6`.
 */
function decimal(min: number, max: number, { fraction = false } = {}) {
  const digits = fraction ? /^\d+(\.\d+)?$/ : /^\d+$/;
  // Worded as the other settings' messages are, with the range, not zod's "Too big: …".
  const range = `must be ${fraction ? "a decimal number" : "a whole number"} from ${min} to ${max}`;
  return z
    .string()
    .regex(digits, { error: fraction ? "must be a decimal number" : "must be a whole number" })
    .transform(Number)
    .pipe(z.number().min(min, { error: range }).max(max, { error: range }));
}

const Port = decimal(0, 65535);

/** A host (or a socket folder as `?host=`) and a non-empty database path. */
function namesHostAndDatabase(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.hostname !== "" || url.searchParams.has("host")) && url.pathname.length > 1;
  } catch {
    return false;
  }
}

/**
 * The TLS modes taken, as libpq means them, which the driver (postgres.js) is then given: of its
 * own it reads them from the URL and PGSSL, and takes `allow` as TLS without a plain fallback,
 * `disable` in PGSSL as TLS, and any unknown mode as verify-full.
 */
const SSL_MODES = ["disable", "prefer", "require", "verify-full"] as const satisfies readonly TlsMode[];
const sslModesMessage = `must be one of ${SSL_MODES.join(", ")}`;

function knownSslMode(value: string): boolean {
  try {
    const query = new URL(value).searchParams;
    const modes = [...query.getAll("sslmode"), ...query.getAll("ssl")];
    // The driver then verifies whatever the mode says; libpq refuses a weaker one.
    if (query.get("sslrootcert") === "system" && modes.some((mode) => mode !== "verify-full")) return false;
    return modes.every((mode) => (SSL_MODES as readonly string[]).includes(mode));
  } catch {
    return true; // refused above, for naming no database
  }
}

/**
 * The TLS mode and the setting that names it: `sslrootcert=system` (verify-full), else the last
 * mode the URL names (sslmode before ssl), else PGSSL's, else none ("disable", named by nothing).
 */
export function tlsSettingOf(
  url: string,
  pgssl: TlsMode | undefined,
): { mode: TlsMode; setting: "sslrootcert" | "sslmode" | "ssl" | "PGSSL" | undefined } {
  const query = new URL(url).searchParams;
  if (query.get("sslrootcert") === "system") return { mode: "verify-full", setting: "sslrootcert" };
  for (const setting of ["sslmode", "ssl"] as const) {
    const mode = query.getAll(setting).at(-1);
    if (mode !== undefined) return { mode: mode as TlsMode, setting };
  }
  return pgssl ? { mode: pgssl, setting: "PGSSL" } : { mode: "disable", setting: undefined };
}

const Env = z.object({
  PORT: Port.default(3000),
  // This machine only: a first start prints a key with every scope. 0.0.0.0 serves the network.
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: "must be a postgres:// or postgresql:// URL" })
    // The driver would fill in what is missing: the user's name as the database, or root.
    .refine(namesHostAndDatabase, {
      error: "name the database (postgres://user@host:5432/<database>)",
    })
    .refine(knownSslMode, {
      error: `sslmode (or ssl) ${sslModesMessage}, and verify-full with sslrootcert=system`,
    })
    .optional(),
  /** The TLS mode when DATABASE_URL names none (the driver's name for libpq's PGSSLMODE). */
  PGSSL: z.enum(SSL_MODES, { error: sslModesMessage }).optional(),
  ODYSSEY_DATA_DIR: z.string().min(1).default("./.odyssey"),
  DATABASE_POOL_SIZE: decimal(1, 200).default(10),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Largest request body accepted on the journeys API, in bytes. */
  MAX_BODY_BYTES: decimal(1024, 10_485_760).default(1_048_576),
  /** Longest a request to /api or /trpc may take before it is answered 503. */
  REQUEST_TIMEOUT_MS: decimal(100, 120_000).default(10_000),
  /** How long a graceful shutdown waits for requests in flight. */
  SHUTDOWN_TIMEOUT_MS: decimal(0, 60_000).default(8_000),
  /** Slow clients: time allowed to send the request headers, and the whole request. */
  HEADERS_TIMEOUT_MS: decimal(100, 120_000).default(10_000),
  CLIENT_REQUEST_TIMEOUT_MS: decimal(100, 300_000).default(30_000),
  /** Largest request head (request line and headers) accepted; larger ones get 431. */
  MAX_HEADER_BYTES: decimal(1024, 65_536).default(16_384),
  /** JSON bodies: deepest nesting and longest string accepted. */
  MAX_JSON_DEPTH: decimal(4, 1000).default(32),
  MAX_JSON_STRING_CHARS: decimal(256, 1_048_576).default(16_384),
  /** Per-key token buckets: sustained requests a second, and the burst allowed above it. 0 turns a limit off. */
  RATE_LIMIT_CONTROL_PER_SECOND: decimal(0, 100_000, { fraction: true }).default(20),
  RATE_LIMIT_CONTROL_BURST: decimal(1, 1_000_000).default(100),
  RATE_LIMIT_INGEST_PER_SECOND: decimal(0, 100_000, { fraction: true }).default(200),
  RATE_LIMIT_INGEST_BURST: decimal(1, 1_000_000).default(1_000),
  /** The admin UI's origin, the only browser origin the control plane answers (CORS); unset: none. */
  ADMIN_ORIGIN: z
    .string()
    .regex(/^https?:\/\/[^/\s]+$/, { error: "must be an origin such as https://admin.example.com" })
    .optional(),
});

export interface RateLimit {
  /** Tokens added a second; 0 means unlimited. */
  perSecond: number;
  burst: number;
}

export type Config = {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /** TLS to Postgres, from DATABASE_URL, else PGSSL; "disable" when neither names one. */
  databaseTls: TlsMode;
  dataDir: string;
  poolSize: number;
  logLevel: z.infer<typeof Env>["LOG_LEVEL"];
  maxBodyBytes: number;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  headersTimeoutMs: number;
  clientRequestTimeoutMs: number;
  maxHeaderBytes: number;
  maxJsonDepth: number;
  maxJsonStringChars: number;
  rateLimits: { control: RateLimit; ingest: RateLimit };
  adminOrigin: string | undefined;
};

export class ConfigError extends Error {}

/** The CLI's socket in the embedded database's folder (admin-socket.ts). */
export const ADMIN_SOCKET = "admin.sock";
/** The longest socket path every OS takes: macOS's 104 bytes, less the closing NUL. */
const MAX_SOCKET_PATH_BYTES = 103;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty or blank variable means "not set", as it does for most tools; spaces around a value
  // are not part of it.
  const present = Object.fromEntries(
    Object.entries(env)
      .map(([name, value]) => [name, value?.trim()])
      .filter(([, value]) => value !== ""),
  );
  const parsed = Env.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "environment");
    // A database URL may hold a password: not repeated in a message that may reach a log.
    const got = name === "DATABASE_URL" ? "" : ` (got ${JSON.stringify(env[name])})`;
    throw new ConfigError(`Invalid ${name}: ${issue?.message ?? "invalid value"}${got}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.ODYSSEY_DATA_DIR);
  // The embedded database's admin socket lives in the folder, and socket paths are short.
  const socketBytes = Buffer.byteLength(join(dataDir, ADMIN_SOCKET));
  if (!e.DATABASE_URL && socketBytes > MAX_SOCKET_PATH_BYTES)
    throw new ConfigError(
      `Invalid ODYSSEY_DATA_DIR: the path ${dataDir} is too long for the admin socket it holds ` +
        `(${socketBytes} bytes with /${ADMIN_SOCKET}, at most ${MAX_SOCKET_PATH_BYTES}); choose a shorter folder`,
    );
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databaseTls: e.DATABASE_URL ? tlsSettingOf(e.DATABASE_URL, e.PGSSL).mode : "disable",
    dataDir,
    poolSize: e.DATABASE_POOL_SIZE,
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    clientRequestTimeoutMs: e.CLIENT_REQUEST_TIMEOUT_MS,
    maxHeaderBytes: e.MAX_HEADER_BYTES,
    maxJsonDepth: e.MAX_JSON_DEPTH,
    maxJsonStringChars: e.MAX_JSON_STRING_CHARS,
    rateLimits: {
      control: { perSecond: e.RATE_LIMIT_CONTROL_PER_SECOND, burst: e.RATE_LIMIT_CONTROL_BURST },
      ingest: { perSecond: e.RATE_LIMIT_INGEST_PER_SECOND, burst: e.RATE_LIMIT_INGEST_BURST },
    },
    adminOrigin: e.ADMIN_ORIGIN,
  };
}
