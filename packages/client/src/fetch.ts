import { HttpStatusError, RequestTimeoutError } from "./errors";

/** What the client passes to `fetch`: a plain request, its body a JSON string. */
export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** What the client reads of an answer. */
export interface FetchResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: {
    get(name: string): string | null;
    forEach(callback: (value: string, name: string) => void): void;
  };
  text(): Promise<string>;
}

/**
 * The part of `fetch` the client uses, written out rather than borrowed from the DOM's types:
 * the global `fetch` and undici's (whose `Request` and `Response` types differ from the DOM's)
 * both fit it.
 */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** The `fetch` tRPC is given: what it calls `fetch` with, and what it reads of the answer. */
type TrpcFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Wraps `fetch` so one request, body included, is bounded by `timeoutMs`, and an answer that
 * tRPC did not write (a proxy's 502 page, the server's 413 for a body over its limit, a captive
 * portal's 200 page) still reports its status and message.
 */
export function boundedFetch(fetchImpl: FetchLike, timeoutMs: number): TrpcFetch {
  return async (input, init) => {
    const controller = new AbortController();
    const outer = init?.signal;
    const forwardAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) forwardAbort();
    else outer?.addEventListener("abort", forwardAbort, { once: true });
    const timer =
      timeoutMs > 0 && Number.isFinite(timeoutMs)
        ? setTimeout(() => controller.abort(new RequestTimeoutError(timeoutMs)), timeoutMs)
        : undefined;
    try {
      const response = await fetchImpl(urlOf(input), { ...plainInit(init), signal: controller.signal });
      // Read the body under the same deadline: a stalled body is as bad as a stalled answer.
      const body = await response.text();
      const { status, statusText, headers } = response;
      const contentType = headers.get("content-type");
      if (!response.ok && !isTrpcError(contentType, body))
        throw new HttpStatusError(status, restErrorMessage(body), headers.get("retry-after"));
      const answer = new Response(nullBodyStatuses.has(status) ? null : body, {
        status,
        statusText,
        headers: copyOf(headers),
      });
      // tRPC reads the answer with json(), and would report a body that is not JSON (a captive
      // portal's page) as a failed connection, without its status. Defined rather than assigned:
      // some Response classes (@hono/node-server's) make json read-only.
      Object.defineProperty(answer, "json", {
        configurable: true,
        value: async () => {
          const json = parseJson(body);
          if (json === undefined) throw new HttpStatusError(status, notJsonMessage(status, contentType));
          // JSON from something else (a proxy, a stub): tRPC would say "Missing result" or
          // "Unable to transform response from server", and lose the status for an array.
          if (!isTrpcAnswer(json, callsIn(input)))
            throw new HttpStatusError(
              status,
              `The server answered HTTP ${status} with JSON that is not a tRPC answer`,
            );
          return json;
        },
      });
      return answer;
    } catch (error) {
      // fetch rejects with the abort reason, which may be anything: name the two causes.
      if (controller.signal.reason instanceof RequestTimeoutError) throw controller.signal.reason;
      if (outer?.aborted) throw new DOMException("The call was aborted", "AbortError");
      throw error;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", forwardAbort);
    }
  };
}

function notJsonMessage(status: number, contentType: string | null): string {
  const mediaType = contentType?.split(";")[0]?.trim();
  return `The server answered HTTP ${status} with ${mediaType ? `a ${mediaType} body` : "a body"} that is not JSON`;
}

const nullBodyStatuses = new Set([101, 204, 205, 304]);

/**
 * tRPC writes its errors as JSON: a batch (an array) or `{"error": {"json": {…}}}`, the error
 * serialized by superjson. A proxy's `{"error": {"message": …}}` is not one.
 */
function isTrpcError(contentType: string | null, body: string): boolean {
  if (contentType === null || !/^application\/(.+\+)?json/i.test(contentType)) return false;
  const json = parseJson(body);
  return Array.isArray(json) || (isObject(json) && isObject(json.error) && isObject(json.error.json));
}

/**
 * A tRPC answer for `calls` calls: one `{result}` or `{error}`, or for a batch an array of them,
 * or one `{error}` for the whole batch (a request refused before any call ran).
 */
function isTrpcAnswer(json: unknown, calls: number | undefined): boolean {
  const isOutcome = (value: unknown) => isObject(value) && ("result" in value || "error" in value);
  if (calls === undefined) return isOutcome(json);
  if (isObject(json) && "error" in json) return true;
  return Array.isArray(json) && json.length === calls && json.every(isOutcome);
}

function urlOf(input: string | URL | Request): string {
  return typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
}

/**
 * tRPC's request as `FetchInit`: it sends its headers as a plain object and its body as JSON
 * text (this client sends no form data).
 */
function plainInit(init: RequestInit | undefined): FetchInit {
  const plain: FetchInit = {};
  if (init?.method !== undefined) plain.method = init.method;
  if (init?.headers !== undefined) plain.headers = Object.fromEntries(new Headers(init.headers));
  if (typeof init?.body === "string") plain.body = init.body;
  return plain;
}

function copyOf(headers: FetchResponse["headers"]): Headers {
  const copy = new Headers();
  headers.forEach((value, name) => {
    copy.append(name, value);
  });
  return copy;
}

/** How many calls a batched request carries (`/trpc/a,b?batch=1`); undefined for a single call. */
function callsIn(input: string | URL | Request): number | undefined {
  const url = new URL(urlOf(input));
  if (url.searchParams.get("batch") !== "1") return undefined;
  return url.pathname.slice(url.pathname.lastIndexOf("/") + 1).split(",").length;
}

/**
 * The text of an answer from outside tRPC: the REST error shape, `{"error": "…"}`, or the
 * `{"error": {"message": "…"}}` many proxies and gateways write.
 */
function restErrorMessage(body: string): string | undefined {
  const json = parseJson(body);
  if (!isObject(json)) return undefined;
  if (typeof json.error === "string") return json.error;
  return isObject(json.error) && typeof json.error.message === "string" ? json.error.message : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
