import { events } from "../lib/events";
import type { BodyGenerator } from "./spec";

/** A request's path and JSON body, made fresh for each request. */
export type MakeRequest = (n: number) => { path?: string; body: unknown };

export const stepsOf = (count: number) =>
  Array.from({ length: count }, (_, index) => ({
    stepKey: `step-${index}`,
    index,
    name: `Step ${index}`,
    stepType: index === 0 ? "eligibility" : "input",
    readingLevel: 8.5,
    fieldCount: 6,
    requiredArtifacts: index === 0 ? ["id-card"] : [],
  }));

/**
 * Each generator makes unique requests where uniqueness matters (slugs, event ids), so the
 * server and its baseline do the same work on every request.
 */
export function bodyGenerator(
  name: BodyGenerator,
  tag: string,
  options: Record<string, unknown> = {},
): MakeRequest {
  switch (name) {
    case "createJourney": {
      const steps = stepsOf(Number(options.steps ?? 10));
      return (n) => ({
        body: {
          slug: `${tag}-${n}`,
          displayName: `Benchmark journey ${n}`,
          sourceSystem: "custom",
          allowedOrigins: ["https://forms.example.com"],
          steps,
        },
      });
    }
    case "updateJourney": {
      const prefix = String(options.slugPrefix);
      const count = Number(options.count);
      return (n) => ({
        path: `/api/journeys/${prefix}-${n % count}`,
        body: { displayName: `Renamed ${tag} ${n}`, environment: n % 2 ? "staging" : "production" },
      });
    }
    case "eventsBatch": {
      // 10 new sessions of 10 events each per request, all within the last hour.
      const journey = String(options.journey);
      const size = Number(options.size ?? 100);
      return (n) => {
        const now = Date.now();
        return { body: { journey, events: events(size, now - 3_600_000, now - 60_000, `${tag}-${n}`) } };
      };
    }
  }
}
