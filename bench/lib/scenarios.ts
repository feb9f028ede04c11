import type { LoadSpec } from "../load/spec";
import type { Seeded } from "./seed";

export interface Timing {
  connections: number;
  duration: number;
  warmup: number;
}

export interface Scenario {
  id: string;
  title: string;
  /** What one successful request carries: 1, or the events in a batch. */
  rowsPerRequest: number;
  baselineTitle: string;
  /** Lowest acceptable server/baseline throughput ratio, and an optional p99 ceiling in ms. */
  target: { minRatio: number; maxP99Ms?: number };
  server(url: string, tag: string): LoadSpec;
  baseline(url: string, tag: string): LoadSpec;
}

export function scenarios(seeded: Seeded, timing: Timing): Scenario[] {
  const auth = { authorization: `Bearer ${seeded.key}` };
  const json = { ...auth, "content-type": "application/json" };
  const get = (url: string, tag: string): LoadSpec => ({
    kind: "http",
    ...timing,
    tag,
    url: `${url}/api/journeys/${seeded.retrieveSlug}`,
    method: "GET",
    headers: auth,
  });
  return [
    {
      id: "healthz",
      title: "GET /healthz (HTTP stack alone)",
      rowsPerRequest: 1,
      baselineTitle: "node:http hello world",
      target: { minRatio: 0.7 },
      server: (url, tag) => ({
        kind: "http",
        ...timing,
        tag,
        url: `${url}/healthz`,
        method: "GET",
        headers: {},
      }),
      baseline: (url, tag) => ({
        kind: "http",
        ...timing,
        tag,
        url: `${url}/healthz`,
        method: "GET",
        headers: {},
      }),
    },
    {
      id: "rest-get",
      title: `REST GET /api/journeys/{slug} (10 steps, ${seeded.retrieveEvents.toLocaleString("en-US")} events)`,
      rowsPerRequest: 1,
      baselineTitle: "node:http + postgres.js, same SQL",
      target: { minRatio: 0.6, maxP99Ms: 50 },
      server: get,
      baseline: get,
    },
    {
      id: "trpc-get",
      title: "tRPC journeys.get via @odyssey/client (batched)",
      rowsPerRequest: 1,
      baselineTitle: "same baseline, same client loop (fetch)",
      target: { minRatio: 0.6 },
      server: (url, tag) => ({
        kind: "trpc",
        ...timing,
        tag,
        url,
        key: seeded.key,
        slug: seeded.retrieveSlug,
      }),
      baseline: (url, tag) => ({
        kind: "fetch",
        ...timing,
        tag,
        url: `${url}/api/journeys/${seeded.retrieveSlug}`,
        headers: auth,
      }),
    },
    {
      id: "rest-create",
      title: "REST POST /api/journeys/create (10 steps)",
      rowsPerRequest: 1,
      baselineTitle: "node:http + postgres.js, same inserts",
      target: { minRatio: 0.5 },
      server: (url, tag) => create(url, tag),
      baseline: (url, tag) => create(url, tag),
    },
    {
      id: "rest-put",
      title: "REST PUT /api/journeys/{slug}",
      rowsPerRequest: 1,
      baselineTitle: "node:http + postgres.js, same SQL",
      target: { minRatio: 0.5 },
      server: (url, tag) => update(url, tag),
      baseline: (url, tag) => update(url, tag),
    },
    {
      id: "events-ingest",
      title: "POST /api/events (batches of 100)",
      rowsPerRequest: 100,
      baselineTitle: "node:http + one UNNEST insert into a bare table",
      target: { minRatio: 0.4 },
      server: (url, tag) => ingest(url, tag),
      baseline: (url, tag) => ingest(url, tag),
    },
  ];

  function ingest(url: string, tag: string): LoadSpec {
    return {
      kind: "http",
      ...timing,
      tag,
      url: `${url}/api/events`,
      method: "POST",
      headers: json,
      body: { generator: "eventsBatch", options: { journey: seeded.ingestSlug, size: 100 } },
    };
  }

  function create(url: string, tag: string): LoadSpec {
    return {
      kind: "http",
      ...timing,
      tag,
      url: `${url}/api/journeys/create`,
      method: "POST",
      headers: json,
      body: { generator: "createJourney", options: { steps: 10 } },
    };
  }

  function update(url: string, tag: string): LoadSpec {
    return {
      kind: "http",
      ...timing,
      tag,
      url: `${url}/api/journeys/${seeded.updatePrefix}-0`,
      method: "PUT",
      headers: json,
      body: {
        generator: "updateJourney",
        options: { slugPrefix: seeded.updatePrefix, count: seeded.updateCount },
      },
    };
  }
}
