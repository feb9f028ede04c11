/** What the parent asks the load process to do: serialisable, since it crosses a process boundary. */
export type LoadSpec = HttpLoad | TrpcLoad | FetchLoad;

interface Common {
  connections: number;
  /** Seconds measured. */
  duration: number;
  /** Seconds of the same load first, not measured, so both sides are measured warm. */
  warmup: number;
  /** Unique per measured run, so requests that create things never collide across runs. */
  tag: string;
}

/** autocannon against one route; `body` names a generator in bodies.ts, or a fixed JSON body. */
export interface HttpLoad extends Common {
  kind: "http";
  url: string;
  method: "GET" | "POST" | "PUT";
  headers: Record<string, string>;
  body?: { generator: BodyGenerator; options?: Record<string, unknown> } | { json: unknown };
}

export type BodyGenerator = "createJourney" | "updateJourney" | "eventsBatch";

/** `journeys.get` through the tRPC client (batched link, superjson), `connections` calls in flight. */
export interface TrpcLoad extends Common {
  kind: "trpc";
  url: string;
  key: string;
  slug: string;
}

/** The same closed loop as TrpcLoad with plain fetch + JSON.parse: the baseline for tRPC. */
export interface FetchLoad extends Common {
  kind: "fetch";
  url: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  /** Successful requests per second. */
  requestsPerSecond: number;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
  /** The status codes of failed requests, with counts. */
  failures: Record<string, number>;
  duration: number;
  /** Requests answered during the warm-up, so CPU time per request can count them too. */
  warmupRequests: number;
  /** CPU time of the server (or baseline) process per request, in µs, when measured. */
  cpuMicrosPerRequest?: number;
}
