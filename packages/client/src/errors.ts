import type { AppRouter } from "@odyssey/api";
import { TRPCClientError } from "@trpc/client";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server";

/**
 * The stable codes an `OdysseyError` carries: the server's (`NOT_FOUND`, `CONFLICT`,
 * `FORBIDDEN`, `UNAUTHORIZED`, `BAD_REQUEST`, …) and four for calls that got no answer.
 */
export type OdysseyErrorCode = TRPC_ERROR_CODE_KEY | "NETWORK_ERROR" | "TIMEOUT" | "ABORTED" | "NOT_SENT";

/**
 * Thrown when a call's request could not be made: the `headers` function threw, or gave a header
 * HTTP cannot carry. Its `cause` is what was thrown.
 */
export class RequestNotSentError extends Error {
  constructor(cause: unknown) {
    super(`The request was not sent: ${messageOf(cause)}`, { cause });
    this.name = "RequestNotSentError";
  }
}

/** What was thrown, as text: an error's message, anything else as a string. */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/** Thrown by the request wrapper when a call outlives `timeoutMs`. */
export class RequestTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The request did not complete within ${timeoutMs} ms`);
    this.name = "TimeoutError";
  }
}

/** Thrown by the request wrapper for an error answer tRPC did not write, e.g. a proxy's 502 page. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message = `The server answered HTTP ${status}`,
    /** The answer's `Retry-After` header, if any. */
    readonly retryAfter: string | null = null,
  ) {
    super(message);
    this.name = "HttpStatusError";
  }
}

/**
 * Every failed call rejects with an `OdysseyError`. It is also a `TRPCClientError` whose `data`
 * is typed by the router, so tRPC tooling keeps working.
 */
export class OdysseyError extends TRPCClientError<AppRouter> {
  /**
   * The HTTP status of the answer, or 0 when none arrived (network error, timeout, abort). A
   * `NETWORK_ERROR` with a status is an answer that was not Odyssey's (a captive portal's page).
   */
  readonly status: number;
  readonly code: OdysseyErrorCode;
  /**
   * How long the server asked the caller to wait before trying again (its `Retry-After`, sent
   * with 429 and 503 answers), in ms; undefined when the answer named no delay.
   */
  readonly retryAfterMs: number | undefined;

  constructor(from: TRPCClientError<AppRouter>) {
    super(from.message, {
      cause: from.cause,
      meta: from.meta,
      result: from.shape ? { error: from.shape } : undefined,
    });
    // TRPCClientError pins its own prototype; restore ours so `instanceof OdysseyError` holds.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = "OdysseyError";
    const { status, code } = classify(from);
    this.status = status;
    this.code = code;
    this.retryAfterMs = parseRetryAfter(retryAfterOf(from));
  }

  /**
   * Whether the same call may succeed if sent again: no answer, too many requests (429), or a
   * server-side (5xx) failure.
   */
  get retryable(): boolean {
    return (
      this.code === "NETWORK_ERROR" || this.code === "TIMEOUT" || this.status === 429 || this.status >= 500
    );
  }

  /** `instanceof` that also holds across copies of this package (ESM and CommonJS in one app). */
  static is(value: unknown): value is OdysseyError {
    return value instanceof OdysseyError || (value instanceof Error && value.name === "OdysseyError");
  }
}

export function toOdysseyError(error: unknown): OdysseyError {
  if (error instanceof OdysseyError) return error;
  return new OdysseyError(TRPCClientError.from(error instanceof Error ? error : new Error(String(error))));
}

/** The error of a call whose signal was aborted. */
export function abortedError(): OdysseyError {
  return toOdysseyError(new DOMException("The call was aborted", "AbortError"));
}

function classify(error: TRPCClientError<AppRouter>): { status: number; code: OdysseyErrorCode } {
  if (error.data) return { status: error.data.httpStatus, code: error.data.code };
  const cause = error.cause;
  // An answer not from Odyssey's tRPC handler: an error status names the failure; a success
  // status with a body tRPC cannot read (a captive portal's page) is as good as no connection.
  if (cause instanceof HttpStatusError) return { status: cause.status, code: codeOfAnswer(cause.status) };
  if (cause instanceof RequestNotSentError) return { status: 0, code: "NOT_SENT" };
  if (cause?.name === "TimeoutError") return { status: 0, code: "TIMEOUT" };
  if (cause?.name === "AbortError" || error.message === "Aborted") return { status: 0, code: "ABORTED" };
  const response = error.meta?.response as { status?: unknown } | undefined;
  if (typeof response?.status === "number")
    return { status: response.status, code: codeOfAnswer(response.status) };
  return { status: 0, code: "NETWORK_ERROR" };
}

/** The `Retry-After` of the answer behind an error, if an answer arrived and carried one. */
function retryAfterOf(error: TRPCClientError<AppRouter>): string | null {
  if (error.cause instanceof HttpStatusError) return error.cause.retryAfter;
  const response = error.meta?.response as { headers?: { get?: unknown } } | undefined;
  const headers = response?.headers;
  return typeof headers?.get === "function" ? (headers as Headers).get("retry-after") : null;
}

const httpDate = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/i;

/** `Retry-After` in ms: delay-seconds or an HTTP date (RFC 9110 10.2.3); undefined if unreadable. */
function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  const text = value?.trim() ?? "";
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = httpDate.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const codeByStatus: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  408: "TIMEOUT",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "TOO_MANY_REQUESTS",
  501: "NOT_IMPLEMENTED",
  502: "BAD_GATEWAY",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

function codeOfAnswer(status: number): OdysseyErrorCode {
  if (status < 400) return "NETWORK_ERROR";
  return codeByStatus[status] ?? (status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST");
}
