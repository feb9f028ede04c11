import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CreateJourneyInput, EventInput, IngestInput, maxLengthAt, UpdateJourneyInput } from "../src/index";

describe("maxLengthAt", () => {
  it("finds a string's maximum through objects, arrays, records and wrappers", () => {
    const schema = z.object({
      name: z.string().max(10).trim().nullish(),
      tags: z.array(z.string().max(20)).default([]),
      meta: z.record(z.string(), z.string().max(30)).optional(),
      piped: z
        .string()
        .max(40)
        .transform((value) => value.length),
      free: z.string(),
    });
    expect(maxLengthAt(schema, ["name"])).toBe(10);
    expect(maxLengthAt(schema, ["tags", 3])).toBe(20);
    expect(maxLengthAt(schema, ["meta", "anything"])).toBe(30);
    expect(maxLengthAt(schema, ["piped"])).toBe(40);
  });

  it("answers undefined where the schema sets no maximum or the path leads nowhere", () => {
    const schema = z.object({ free: z.string(), list: z.array(z.string().max(5)) });
    expect(maxLengthAt(schema, ["free"])).toBeUndefined();
    expect(maxLengthAt(schema, ["missing"])).toBeUndefined();
    expect(maxLengthAt(schema, ["list", "not-an-index"])).toBeUndefined();
    expect(maxLengthAt(schema, ["free", "deeper"])).toBeUndefined();
    expect(maxLengthAt(schema, ["toString"])).toBeUndefined();
  });

  it("reads the contract's own limits", () => {
    expect(maxLengthAt(CreateJourneyInput, ["displayName"])).toBe(255);
    expect(maxLengthAt(CreateJourneyInput, ["steps", 0, "name"])).toBe(255);
    expect(maxLengthAt(CreateJourneyInput, ["allowedOrigins", 0])).toBe(2048);
    expect(maxLengthAt(UpdateJourneyInput, ["displayName"])).toBe(255);
    expect(maxLengthAt(EventInput, ["sessionId"])).toBe(200);
    expect(maxLengthAt(IngestInput, ["journey"])).toBe(255);
  });
});
