/**
 * The headers of the answers that a browser caller reads. CORS shows a page only the safelisted
 * ones (`Content-Type` among them) unless the answer names the others in
 * `Access-Control-Expose-Headers`: when to send again (`Retry-After`, on every 429 and 503, which
 * `@odyssey/client` reads as `retryAfterMs`), the rate limit's state (guards/rate-limit.ts) and the
 * request's id (essential-headers.ts), to report a failure by.
 */
export const exposedHeaders = [
  "Retry-After",
  "RateLimit-Limit",
  "RateLimit-Policy",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "X-Request-Id",
].join(", ");

/** How long a browser may keep a preflight's answer and send without asking again, in seconds. */
export const preflightMaxAgeSeconds = 600;
