import { HttpStatusError, RequestTimeoutError } from "./errors";

/** The part of `fetch` the client uses; the global `fetch` and undici's fit it. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Wraps `fetch` so one request, body included, is bounded by `timeoutMs`, and an error answer
 * that is not JSON (a proxy's 502 page) still reports its status.
 */
export function boundedFetch(fetchImpl: FetchLike, timeoutMs: number): FetchLike {
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
      const response = await fetchImpl(input, { ...init, signal: controller.signal });
      // Read the body under the same deadline: a stalled body is as bad as a stalled answer.
      const body = await response.text();
      if (!response.ok && !isJson(response.headers.get("content-type")))
        throw new HttpStatusError(response.status);
      const { status, statusText, headers } = response;
      return new Response(nullBodyStatuses.has(status) ? null : body, { status, statusText, headers });
    } catch (error) {
      // fetch rejects with the abort reason; make sure a timeout is reported as one.
      if (controller.signal.aborted && controller.signal.reason instanceof RequestTimeoutError)
        throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", forwardAbort);
    }
  };
}

const nullBodyStatuses = new Set([101, 204, 205, 304]);

function isJson(contentType: string | null): boolean {
  return contentType !== null && /^application\/(.+\+)?json/i.test(contentType);
}
