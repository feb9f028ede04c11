import { createOdysseyClient } from "@odyssey/client";
import autocannon from "autocannon";
import { bodyGenerator } from "./bodies";
import type { FetchLoad, HttpLoad, LoadResult, LoadSpec, TrpcLoad } from "./spec";

// The load generator runs in its own process, so its CPU use never counts against the server's
// event loop. It gets one LoadSpec as JSON in argv and prints one LoadResult as JSON on stdout.

async function runHttp(spec: HttpLoad): Promise<LoadResult> {
  const body = spec.body;
  const make =
    body && "generator" in body ? bodyGenerator(body.generator, spec.tag, body.options) : undefined;
  const fixed = body && "json" in body ? JSON.stringify(body.json) : undefined;
  const base = new URL(spec.url);
  let n = 0;
  const result = await autocannon({
    url: base.origin,
    connections: spec.connections,
    duration: spec.duration,
    // Retrieve over 100k sessions can take seconds under 50 connections: count it, do not drop it.
    timeout: 60,
    headers: spec.headers,
    requests: [
      {
        method: spec.method,
        path: base.pathname + base.search,
        ...(fixed !== undefined && { body: fixed }),
        ...(make && {
          setupRequest: (request: autocannon.Request) => {
            const next = make(n++);
            return { ...request, path: next.path ?? request.path, body: JSON.stringify(next.body) };
          },
        }),
      },
    ],
  });
  const failures: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {}))
    if (!code.startsWith("2")) failures[code] = stats.count ?? 0;
  if (result.errors) failures.errors = result.errors;
  if (result.timeouts) failures.timeouts = result.timeouts;
  return {
    requestsPerSecond: result["2xx"] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result["2xx"],
    failed: result.non2xx + result.errors,
    failures,
    duration: result.duration,
    warmupRequests: 0,
  };
}

/** `connections` callers each making one call at a time until the time is up. */
async function closedLoop(spec: { connections: number; duration: number }, call: () => Promise<void>) {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + spec.duration * 1000;
  const caller = async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      try {
        await call();
        latencies.push(performance.now() - t);
      } catch (error) {
        const { status, message } = error as { status?: number; message?: string };
        const reason = String(status ?? message ?? error);
        failures[reason] = (failures[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, caller));
  const duration = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  return {
    requestsPerSecond: latencies.length / duration,
    p50: Math.round(at(0.5) * 100) / 100,
    p99: Math.round(at(0.99) * 100) / 100,
    ok: latencies.length,
    failed,
    failures,
    duration,
    warmupRequests: 0,
  };
}

function runTrpc(spec: TrpcLoad): Promise<LoadResult> {
  // The published SDK: batched tRPC links and superjson, as a TypeScript app would call it.
  const client = createOdysseyClient({ baseUrl: spec.url, apiKey: spec.key, retries: 0 });
  return closedLoop(spec, async () => {
    await client.journeys.get.query({ slug: spec.slug });
  });
}

function runFetch(spec: FetchLoad): Promise<LoadResult> {
  return closedLoop(spec, async () => {
    const response = await fetch(spec.url, { headers: spec.headers });
    const body = await response.json();
    if (!response.ok) throw new Error(`${response.status} ${JSON.stringify(body)}`);
  });
}

function run(spec: LoadSpec): Promise<LoadResult> {
  return spec.kind === "http" ? runHttp(spec) : spec.kind === "trpc" ? runTrpc(spec) : runFetch(spec);
}

async function warmThenMeasure(spec: LoadSpec): Promise<LoadResult> {
  const warm =
    spec.warmup > 0 ? await run({ ...spec, duration: spec.warmup, tag: `${spec.tag}w` }) : undefined;
  const measured = await run(spec);
  return { ...measured, warmupRequests: warm ? warm.ok + warm.failed : 0 };
}

warmThenMeasure(JSON.parse(process.argv[2] ?? "null") as LoadSpec).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
