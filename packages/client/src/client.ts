import type { AppRouter } from "@odyssey/api";
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  splitLink,
  type TRPCClient,
  type TRPCLink,
} from "@trpc/client";
import { observable, type Unsubscribable } from "@trpc/server/observable";
import { deserialize, serialize } from "superjson";
import { abortedError, messageOf, type OdysseyError, RequestNotSentError, toOdysseyError } from "./errors";
import { boundedFetch, type FetchLike } from "./fetch";

export interface OdysseyClientOptions {
  /** Where the Odyssey server answers, e.g. `https://odyssey.example.com`. */
  baseUrl: string;
  /** A secret API key (`ody_sk_…`), sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** A `fetch` to use instead of the global one (tests, proxies, older runtimes). */
  fetch?: FetchLike | undefined;
  /**
   * Extra headers sent with every request; a function is called for each request. An
   * `Authorization` among them is replaced by the one `apiKey` makes.
   */
  headers?:
    | Record<string, string>
    | (() => Record<string, string> | Promise<Record<string, string>>)
    | undefined;
  /**
   * Longest one HTTP request may take, body included, in ms, up to 2 147 483 647 (about 24.8
   * days, the longest a timer can wait); 0 or `Infinity` turns the bound off. Default 30 000.
   */
  timeoutMs?: number | undefined;
  /**
   * How many times a query is sent again after a network error, a timeout, a 429 or a 5xx
   * answer (after the answer's `Retry-After` when it has one). Mutations and other 4xx answers
   * are never retried. Default 2.
   */
  retries?: number | undefined;
}

/** The typed client: `client.journeys.get.query({ slug })`, `client.journeys.create.mutate(…)`. */
export type OdysseyClient = TRPCClient<AppRouter>;

const defaultTimeoutMs = 30_000;
/** The longest delay `setTimeout` keeps: a longer one fires at once. */
const maxTimerMs = 2_147_483_647;
const defaultRetries = 2;
/** The longest `Retry-After` a query waits out before a retry when `timeoutMs` is 0. */
const maxRetryAfterWithoutTimeoutMs = 60_000;

/** The longest URL a batch of queries is given, its calls' inputs included. */
export const MAX_BATCH_URL_LENGTH = 4096;

export function createOdysseyClient(options: OdysseyClientOptions): OdysseyClient {
  const { apiKey, headers } = options;
  const url = trpcUrl(options.baseUrl);
  if (typeof apiKey !== "string" || apiKey.trim() === "")
    throw new TypeError("apiKey must be a non-empty string");
  const timeoutMs = timeoutOption(options.timeoutMs ?? defaultTimeoutMs);
  const retries = Math.floor(nonNegative(options.retries ?? defaultRetries, "retries"));
  const fetchImpl: FetchLike = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const withKey = (extra: Record<string, string> | undefined) => {
    // Another spelling of Authorization would be sent beside this one, and the two joined.
    const others = Object.entries(extra ?? {}).filter(([name]) => name.toLowerCase() !== "authorization");
    const all = { ...Object.fromEntries(others), authorization: `Bearer ${apiKey}` };
    // Throws a TypeError for a name or value HTTP cannot carry (a line break in the key, say).
    new Headers(all);
    return all;
  };
  // The key and fixed headers are made and checked once, now, so a mistake in them fails here
  // rather than on every call.
  let fixed: Record<string, string>;
  try {
    fixed = withKey(typeof headers === "function" ? undefined : headers);
  } catch (error) {
    throw new TypeError(`apiKey and headers must be valid HTTP header values: ${messageOf(error)}`);
  }
  const transport = {
    url,
    // Named functions rather than the default export, which module interop may hand back
    // as the namespace instead.
    transformer: { serialize, deserialize },
    fetch: boundedFetch(fetchImpl, timeoutMs),
    async headers() {
      if (typeof headers !== "function") return fixed;
      // A failure here is the caller's (a token refresh that failed), not the network's: the
      // call fails with NOT_SENT and is not retried.
      try {
        return withKey(await headers());
      } catch (error) {
        throw new RequestNotSentError(error);
      }
    },
  };

  return createTRPCClient<AppRouter>({
    links: [
      errorLink,
      retryQueries(retries, timeoutMs > 0 ? timeoutMs : maxRetryAfterWithoutTimeoutMs),
      // Queries made in the same tick share one request; each mutation has a request of its
      // own. The server bounds a request as a whole (1 MiB, 512 KiB with events.ingest), so
      // batched mutations that are each within the limits could be refused together, and one
      // mutation's refusal would fail the others.
      splitLink({
        condition: (op) => op.type === "query",
        true: httpBatchLink({
          ...transport,
          // The server's MAX_TRPC_BATCH_CALLS: a larger batch would be refused whole.
          maxItems: 10,
          // Queries travel in the URL: a batch that would pass this is split, so no request head
          // nears the server's 16 KiB (431, which a browser cannot read without CORS headers)
          // or the 8 KiB request line many proxies allow. A single call is sent whatever its size.
          maxURLLength: MAX_BATCH_URL_LENGTH,
        }),
        false: httpLink(transport),
      }),
    ],
  });
}

/**
 * Every failure leaves the client as an `OdysseyError`, and a call rejects as soon as its signal
 * aborts. tRPC cancels a batched request only once every call in it is aborted, so without this
 * an aborted query would wait for the queries batched with it (and resolve).
 */
const errorLink: TRPCLink<AppRouter> =
  () =>
  ({ op, next }) =>
    observable((observer) => {
      const { signal } = op;
      if (signal?.aborted) {
        observer.error(abortedError());
        return () => {};
      }
      const subscription = next(op).subscribe({
        next: (value) => observer.next(value),
        error: (error) => observer.error(toOdysseyError(error)),
        complete: () => observer.complete(),
      });
      // Erroring tears this down, which unsubscribes: the call leaves its batch (and its
      // request is cancelled when it was alone in it).
      const onAbort = () => observer.error(abortedError());
      signal?.addEventListener("abort", onAbort, { once: true });
      return () => {
        signal?.removeEventListener("abort", onAbort);
        subscription.unsubscribe();
      };
    });

/**
 * Sends a failed query again, up to `retries` times, when its failure is retryable. Mutations
 * are never sent twice: one whose answer was lost may have taken effect.
 */
function retryQueries(retries: number, maxRetryAfterMs: number): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        let attempts = 0;
        let current: Unsubscribable | undefined;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const attempt = () => {
          attempts++;
          current = next(op).subscribe({
            next: (value) => observer.next(value),
            complete: () => observer.complete(),
            error: (cause) => {
              const error = toOdysseyError(cause);
              const delayMs =
                op.type === "query" && attempts <= retries && !op.signal?.aborted
                  ? retryDelayMs(error, attempts, maxRetryAfterMs)
                  : undefined;
              if (delayMs === undefined) observer.error(error);
              else timer = setTimeout(attempt, delayMs);
            },
          });
        };
        attempt();
        return () => {
          clearTimeout(timer);
          current?.unsubscribe();
        };
      });
}

/**
 * How long to wait before sending a failed query again; undefined when it should not be. The
 * server's `Retry-After` is waited out (sooner would be refused again) unless it is longer than
 * `maxRetryAfterMs`: then the caller gets the error, and its `retryAfterMs`, at once.
 */
function retryDelayMs(error: OdysseyError, attempt: number, maxRetryAfterMs: number): number | undefined {
  if (!error.retryable) return undefined;
  const backoffMs = backoff(attempt);
  if (error.retryAfterMs === undefined) return backoffMs;
  return error.retryAfterMs <= maxRetryAfterMs ? Math.max(backoffMs, error.retryAfterMs) : undefined;
}

/** Exponential backoff with jitter: about 200 ms, 400 ms, 800 ms …, at most 5 s. */
function backoff(attempt: number): number {
  const ceiling = Math.min(5_000, 200 * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function trpcUrl(baseUrl: string): string {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new TypeError(
      `baseUrl must be an absolute URL such as https://odyssey.example.com (got ${baseUrl})`,
    );
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}/trpc`;
}

/** `timeoutMs` as the request wrapper takes it: 0 for no bound. */
function timeoutOption(value: number): number {
  nonNegative(value, "timeoutMs");
  if (value === Number.POSITIVE_INFINITY) return 0;
  if (value > maxTimerMs)
    throw new TypeError(
      `timeoutMs must be at most ${maxTimerMs} (about 24.8 days); 0 or Infinity turns the bound off`,
    );
  return value;
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0)
    throw new TypeError(`${name} must be a number ≥ 0`);
  return value;
}
