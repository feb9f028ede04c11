import { createHash } from "node:crypto";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, MiddlewareHandler } from "hono";
import type { RateLimit } from "../env";
import { requestHeader } from "../request-essentials";
import { refuse } from "./refuse";

// Token buckets per caller, held in this process. Several processes each keep their own, so a
// caller spread over N processes gets up to N times the limit: sharing buckets through Postgres
// would cost a write on a hot row for every request, which is the load the limit exists to
// shed. Operators running N processes set the limits to 1/N of the intended total.

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Most buckets kept; past it the least recently used are dropped (they only forget a debt). */
const MAX_BUCKETS = 50_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes a token for `caller`; answers what is left and, when refused, when to come back. */
  take(caller: string): {
    allowed: boolean;
    remaining: number;
    retryAfterSeconds: number;
    resetSeconds: number;
  } {
    const { perSecond, burst } = this.limit;
    const now = this.now();
    const previous = this.buckets.get(caller);
    const elapsed = previous ? (now - previous.updatedAt) / 1000 : 0;
    const tokens = Math.min(burst, (previous?.tokens ?? burst) + elapsed * perSecond);
    const allowed = tokens >= 1;
    const left = allowed ? tokens - 1 : tokens;
    // Re-inserting keeps the Map in least-recently-used order.
    this.buckets.delete(caller);
    this.buckets.set(caller, { tokens: left, updatedAt: now });
    if (this.buckets.size > MAX_BUCKETS) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return {
      allowed,
      remaining: Math.floor(left),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - left) / perSecond)),
      resetSeconds: Math.ceil((burst - left) / perSecond),
    };
  }
}

/**
 * Who is asking: the bearer credential (hashed, so no key is held in memory), else the client
 * address. Publishable keys travel in the body, so browser beacons are counted by address.
 */
function callerOf(c: Context): string {
  const authorization = requestHeader(c, "authorization");
  if (authorization) return `key:${createHash("sha256").update(authorization).digest("base64url")}`;
  let address = "unknown";
  try {
    address = getConnInfo(c).remote.address ?? "unknown";
  } catch {}
  return `ip:${address}`;
}

/** 429 `{"error"}` with `Retry-After` once a caller's bucket is empty; `RateLimit-*` on every answer. */
export function rateLimit(name: string, limit: RateLimit): MiddlewareHandler {
  if (limit.perSecond === 0) return (_c, next) => next();
  const buckets = new TokenBuckets(limit);
  const policy = `${limit.burst};w=${Math.ceil(limit.burst / limit.perSecond)};name="${name}"`;
  return async (c, next) => {
    const verdict = buckets.take(callerOf(c));
    const headers = {
      "RateLimit-Policy": policy,
      "RateLimit-Limit": String(limit.burst),
      "RateLimit-Remaining": String(verdict.remaining),
      "RateLimit-Reset": String(verdict.resetSeconds),
    };
    if (!verdict.allowed)
      return refuse(c, 429, `Rate limit exceeded: retry in ${verdict.retryAfterSeconds} s`, {
        ...headers,
        "Retry-After": String(verdict.retryAfterSeconds),
      });
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
}
