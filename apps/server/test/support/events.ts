import { randomUUID } from "node:crypto";
import { EventType } from "@odyssey/api";
import { sql } from "drizzle-orm";
import type { TestServer } from "./server";

export interface SentEvent {
  id: string;
  type: string;
  sessionId: string;
  timestamp: string;
  stepKey?: string;
  field?: string;
  device?: string;
}

export const uuid = () => randomUUID();

/** Every event counted in `event_hour_counts` (one count column per type), added up. */
export const eventsCountedInHours = sql.raw(
  `(select coalesce(sum(${EventType.options.join(" + ")}), 0)::int from event_hour_counts)`,
);

/** POST /api/events with whatever headers a test needs (the key may also ride in the body). */
export function postEvents(
  server: TestServer,
  body: unknown,
  options: { key?: string; headers?: Record<string, string>; method?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  return fetch(`${server.url}/api/events`, {
    method: options.method ?? "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Creates a journey with steps `s0…s{n-1}` (index = position) and answers its Retrieve body. */
export async function createJourney(
  server: TestServer,
  key: string,
  slug: string,
  options: { steps?: number; allowedOrigins?: string[] } = {},
) {
  const steps = Array.from({ length: options.steps ?? 3 }, (_, i) => ({
    stepKey: `s${i}`,
    index: i,
    name: `Step ${i}`,
  }));
  const res = await server.call(key, "POST", "/api/journeys/create", {
    slug,
    displayName: slug,
    steps,
    allowedOrigins: options.allowedOrigins ?? [],
  });
  if (res.status !== 201) throw new Error(`create journey: ${res.status} ${await res.text()}`);
  return (await res.json()) as {
    id: string;
    steps: { id: string; stepKey: string; index: number; name: string }[];
  };
}
