import { createHash } from "node:crypto";
import { getConnInfo } from "@hono/node-server/conninfo";
import { keyFromAuthorization } from "@odyssey/api";
import type { Context, MiddlewareHandler } from "hono";
import type { RateLimit } from "../env";
import { requestHeader, setResponseHeader } from "../request-essentials";
import type { RestEnv } from "../rest/context";
import { refuse } from "./refuse";

// Token buckets per caller, held in this process. Several processes each keep their own, so a
// caller spread over N processes gets up to N times the limit: sharing buckets through Postgres
// would cost a write on a hot row for every request, which is the load the limit exists to
// shed. Operators running N processes set the limits to 1/N of the intended total.

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** A bucket's answer to a request: whether it may pass, what is left, and when to come back. */
export interface Verdict {
  allowed: boolean;
  remaining: number;
  retryAfterSeconds: number;
  resetSeconds: number;
}

/** Most buckets kept; past it the least recently used are dropped (they only forget a debt). */
const MAX_BUCKETS = 50_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Takes `cost` tokens for `caller` (a batch of tRPC calls costs one per call); answers what is
   * left and, when refused, when to come back. A cost above the burst is allowed from a full
   * bucket and leaves it in debt, so a large batch is slowed, never refused forever.
   */
  take(caller: string, cost = 1): Verdict {
    const now = this.now();
    const { verdict, left } = this.judge(this.tokensAt(caller, now), cost);
    // Re-inserting keeps the Map in least-recently-used order.
    this.buckets.delete(caller);
    this.buckets.set(caller, { tokens: left, updatedAt: now });
    if (this.buckets.size > MAX_BUCKETS) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return verdict;
  }

  /** What `take` would answer now, taking nothing. */
  peek(caller: string, cost = 1): Verdict {
    return this.judge(this.tokensAt(caller, this.now()), cost).verdict;
  }

  private judge(tokens: number, cost: number): { verdict: Verdict; left: number } {
    const { perSecond, burst } = this.limit;
    const needed = Math.min(cost, burst);
    const allowed = tokens >= needed;
    const left = allowed ? tokens - cost : tokens;
    const verdict = {
      allowed,
      remaining: Math.max(0, Math.floor(left)),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((needed - left) / perSecond)),
      resetSeconds: Math.ceil((burst - left) / perSecond),
    };
    return { verdict, left };
  }

  /** How many callers have a bucket. */
  get size(): number {
    return this.buckets.size;
  }

  /** The seconds until `caller` has a token again; 0 when it has one now. Takes nothing. */
  waitFor(caller: string): number {
    const tokens = this.tokensAt(caller, this.now());
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.limit.perSecond));
  }

  private tokensAt(caller: string, now: number): number {
    const previous = this.buckets.get(caller);
    if (!previous) return this.limit.burst;
    const elapsed = (now - previous.updatedAt) / 1000;
    return Math.min(this.limit.burst, previous.tokens + elapsed * this.limit.perSecond);
  }
}

/** The key a request presents in its header, as the key lookup reads it; undefined for none. */
function presentedKey(c: Context): string | undefined {
  const authorization = requestHeader(c, "authorization");
  if (!authorization) return undefined;
  try {
    return keyFromAuthorization(authorization);
  } catch {
    return undefined; // malformed: counted by address
  }
}

function addressOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Hashes of keys that recently passed (a bounded set, least recently used dropped first): an
 * address refused for presenting made-up keys still gets through with a key that works, since
 * behind a proxy one address can be many callers.
 */
class RecentKeys {
  private readonly hashes = new Set<string>();

  constructor(private readonly max = 10_000) {}

  has(hash: string): boolean {
    return this.hashes.has(hash);
  }

  passed(hash: string): void {
    this.hashes.delete(hash);
    this.hashes.add(hash);
    if (this.hashes.size > this.max) {
      const oldest = this.hashes.values().next().value;
      if (oldest !== undefined) this.hashes.delete(oldest);
    }
  }

  failed(hash: string): void {
    this.hashes.delete(hash);
  }
}

/** One named limit: its callers' buckets, and the failed keys counted against addresses. */
class NamedLimit {
  readonly buckets: TokenBuckets;
  readonly failedKeys: TokenBuckets;
  readonly policy: string;

  constructor(
    readonly name: string,
    readonly limit: RateLimit,
  ) {
    this.buckets = new TokenBuckets(limit);
    this.failedKeys = new TokenBuckets(limit);
    this.policy = `${limit.burst};w=${Math.ceil(limit.burst / limit.perSecond)};name="${name}"`;
  }

  headers(verdict: Verdict): Record<string, string> {
    return {
      "RateLimit-Policy": this.policy,
      "RateLimit-Limit": String(this.limit.burst),
      "RateLimit-Remaining": String(verdict.remaining),
      "RateLimit-Reset": String(verdict.resetSeconds),
    };
  }
}

/** What one request costs in each named limit (a tRPC batch costs one per call, in its call's). */
export type Charges = Record<string, number>;

/**
 * Token buckets per caller, one set per named limit in `limits` (a limit with 0 a second is off);
 * `chargesOf` says what a request costs in each. A request passes only when every bucket it is
 * charged to can pay, and is then charged in each: otherwise it is 429 `{"error"}` with the
 * longest `Retry-After` of those short, and nothing is taken. `RateLimit-*` on every answer,
 * for the bucket that refused, else the one with the fewest requests left. The caller is the key
 * in the header (hashed, so no key is held in memory; written `bearer` or `Bearer`, it is one
 * key), else the client address: publishable keys travel in the body, so browser beacons are
 * counted by address. Keys that fail (401) are also counted against their address, in a bucket
 * of their own per limit: a client trying a new made-up key on every request is refused from
 * that address once it is empty, before the keys are looked up, while keys that recently passed
 * (on any route: a key is as good on one as on another) still get through from it.
 */
export function rateLimits(
  limits: Record<string, RateLimit>,
  chargesOf: (c: Context) => Charges,
): MiddlewareHandler<RestEnv> {
  const named = new Map(
    Object.entries(limits)
      .filter(([, limit]) => limit.perSecond > 0)
      .map(([name, limit]) => [name, new NamedLimit(name, limit)]),
  );
  const passedKeys = new RecentKeys();
  return async (c, next) => {
    const charged = Object.entries(chargesOf(c)).flatMap(([name, cost]) => {
      const limit = named.get(name);
      return limit && cost > 0 ? [{ limit, cost }] : [];
    });
    if (charged.length === 0) return next();
    const key = presentedKey(c);
    const keyHash = key === undefined ? undefined : createHash("sha256").update(key).digest("base64url");
    // The address is only needed without a key, or once some key has failed.
    const address =
      key === undefined || charged.some(({ limit }) => limit.failedKeys.size > 0)
        ? `ip:${addressOf(c)}`
        : undefined;
    let failedWait = 0;
    if (keyHash !== undefined && address !== undefined && !passedKeys.has(keyHash))
      for (const { limit } of charged) failedWait = Math.max(failedWait, limit.failedKeys.waitFor(address));
    if (failedWait > 0)
      return refuse(c, 429, `Too many requests with invalid API keys: retry in ${failedWait} s`, {
        "Retry-After": String(failedWait),
      });
    const caller = keyHash === undefined ? (address as string) : `key:${keyHash}`;

    const short = charged
      .map(({ limit, cost }) => ({ limit, verdict: limit.buckets.peek(caller, cost) }))
      .filter(({ verdict }) => !verdict.allowed);
    if (short.length > 0) {
      const longest = short.reduce((worst, each) =>
        each.verdict.retryAfterSeconds > worst.verdict.retryAfterSeconds ? each : worst,
      );
      const wait = longest.verdict.retryAfterSeconds;
      return refuse(c, 429, `Rate limit exceeded: retry in ${wait} s`, {
        ...longest.limit.headers(longest.verdict),
        "Retry-After": String(wait),
      });
    }
    const taken = charged.map(({ limit, cost }) => ({ limit, verdict: limit.buckets.take(caller, cost) }));
    const tightest = taken.reduce((least, each) =>
      each.verdict.remaining < least.verdict.remaining ? each : least,
    );
    const headers = tightest.limit.headers(tightest.verdict);
    await next();
    if (keyHash !== undefined) {
      const failedFrom = c.res.status === 401 ? (address ?? `ip:${addressOf(c)}`) : undefined;
      if (failedFrom !== undefined) {
        for (const { limit } of charged) limit.failedKeys.take(failedFrom);
        passedKeys.failed(keyHash);
      } else if (c.get("keyVerified") === true) passedKeys.passed(keyHash);
    }
    // On the Node response, which a HEAD answer is built from as well.
    for (const [name, value] of Object.entries(headers)) setResponseHeader(c, name, value);
  };
}
