// Which driver errors mean "the database cannot be reached right now" (worth a retry), as
// opposed to a bad query or a constraint violation.

/** postgres.js connection states and the Node socket errors behind them. */
const connectionCodes = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/**
 * Postgres SQLSTATEs: class 08 (connection exception), 53300 (too many connections),
 * 57P01–57P03 (shutdown, crash, starting up).
 */
const unavailableStates = /^(08...|53300|57P0[123])$/;

/** True when `error` (or a cause it wraps) says the database could not be reached. */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (connectionCodes.has(code) || unavailableStates.test(code))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
