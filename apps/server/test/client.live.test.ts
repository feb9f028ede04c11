import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOdysseyClient,
  type OdysseyClientOptions,
  type TrackedEvent,
} from "../../../packages/client/src";
import { uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// @odyssey/client (its source) against the live server: what only real requests show.

/** Bytes of the JSON the client sends for `value` (superjson adds little to plain data). */
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe("@odyssey/client against the live server", () => {
  let server: TestServer;
  let key: string;
  const client = (options: Partial<OdysseyClientOptions> = {}) =>
    createOdysseyClient({ baseUrl: server.url, apiKey: key, ...options });

  beforeAll(async () => {
    server = await startTestServer();
    key = await server.key("client-live");
  });
  afterAll(() => server?.close());

  describe("concurrent mutations", () => {
    it("ingests eight batches of 500 events sent at once, together past the 512 KiB batch limit", async () => {
      const odyssey = client();
      await odyssey.journeys.create.mutate({ slug: "concurrent-ingest", displayName: "Concurrent ingest" });
      const timestamp = new Date().toISOString();
      const batches = Array.from({ length: 8 }, (_, b) => ({
        journey: "concurrent-ingest",
        events: Array.from(
          { length: 500 },
          (_, i): TrackedEvent => ({
            id: uuid(),
            type: "field_focus",
            sessionId: `session-${b}-${i}`,
            stepKey: "applicant-details",
            field: "business-registration-number",
            timestamp,
          }),
        ),
      }));
      const sizes = batches.map(jsonBytes);
      expect(Math.max(...sizes)).toBeLessThan(512 * 1024);
      expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(512 * 1024);

      const results = await Promise.all(batches.map((batch) => odyssey.events.ingest.mutate(batch)));
      expect(results.map((r) => r.accepted)).toEqual(Array(8).fill(500));
    });

    it("creates two journeys of about 600 KiB each at once, together past the 1 MiB body limit", async () => {
      const odyssey = client();
      const large = (slug: string) => ({
        slug,
        displayName: slug,
        steps: Array.from({ length: 24 }, (_, i) => ({
          stepKey: `step-${i}`,
          index: i,
          requiredArtifacts: Array.from({ length: 100 }, (_, a) => `artifact-${a}-`.padEnd(255, "x")),
        })),
      });
      const inputs = [large("large-one"), large("large-two")];
      for (const input of inputs) expect(jsonBytes(input)).toBeGreaterThan(600 * 1024);
      expect(jsonBytes(inputs[0])).toBeLessThan(1024 * 1024);

      const created = await Promise.all(inputs.map((input) => odyssey.journeys.create.mutate(input)));
      expect(created.map((j) => [j.slug, j.steps.length])).toEqual([
        ["large-one", 24],
        ["large-two", 24],
      ]);
    });

    it("keeps one mutation's failure from failing another sent with it", async () => {
      const odyssey = client();
      const [tooLarge, created] = await Promise.allSettled([
        odyssey.journeys.create.mutate({
          slug: "over-the-limit",
          displayName: "Over the limit",
          allowedOrigins: Array.from({ length: 40_000 }, (_, i) => `https://origin-${i}.example.com`),
        }),
        odyssey.journeys.create.mutate({ slug: "beside-a-failure", displayName: "Beside a failure" }),
      ]);
      expect(tooLarge.status === "rejected" && tooLarge.reason).toMatchObject({
        status: 413,
        code: "PAYLOAD_TOO_LARGE",
      });
      expect(created.status === "fulfilled" && created.value.slug).toBe("beside-a-failure");
    });
  });
});
