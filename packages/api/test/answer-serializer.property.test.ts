import fc from "fast-check";
import superjson from "superjson";
import { describe, expect, it, vi } from "vitest";
import { serializeAnswer, withoutReferences } from "../src/answer-serializer";

// serializeAnswer must answer exactly what superjson.serialize answers, for any value, but for
// the references superjson records (the published client reads it with superjson, and each place
// of an answer reads back its own value). Pure computation, no database.

const keys = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom("a.b", "a\\b", "a\\.b", "", ".", "\\", "0", "__proto__", "constructor", "prototype"),
);
const leaves = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.integer(),
  fc.double(), // NaN, ±Infinity and -0 included
  fc.date({ noInvalidDate: false }),
  fc.bigInt(),
  fc.constant(new Map([["k", 1]])),
  fc.constant(new Set([1])),
);
const values = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, leaves, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 5 }),
  object: fc.dictionary(keys, tie("value"), { maxKeys: 5 }),
})).value;

/**
 * The answer as it travels (JSON), compared regardless of key order: superjson lists annotation
 * paths with integer-like keys first at each level, which changes nothing for its reader. Or the
 * error: superjson refuses some keys, and so must the copy.
 */
function outcome(serialize: (value: unknown) => unknown, value: unknown) {
  try {
    return { answer: JSON.parse(JSON.stringify(serialize(value))) as unknown };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

describe("serializeAnswer", () => {
  it("answers what superjson.serialize answers, for any value", () => {
    fc.assert(
      fc.property(values, (value) => {
        expect(outcome(serializeAnswer, value)).toEqual(
          outcome((v) => withoutReferences(superjson.serialize(v)), value),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it("matches superjson on the numbers JSON cannot carry", () => {
    for (const n of [-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const value = { rates: [0.5, n], nested: { n } };
      // superjson records the two NaNs as one value reached twice: references are left out.
      expect(serializeAnswer(value)).toEqual(withoutReferences(superjson.serialize(value)));
      expect(superjson.deserialize(serializeAnswer(value))).toEqual(value);
    }
  });

  it("answers an object or Date reached twice as superjson answers copies of it", () => {
    const shared = new Date("2026-11-26T10:00:00Z");
    const inner = { at: shared };
    const copies = () => ({ at: new Date(shared) });
    const cases = [
      [
        { a: shared, b: shared },
        { a: new Date(shared), b: new Date(shared) },
      ],
      [
        { a: inner, b: [inner] },
        { a: copies(), b: [copies()] },
      ],
      [
        [inner, { inner }],
        [copies(), { inner: copies() }],
      ],
      [
        { m: new Map([["k", inner]]), n: inner },
        { m: new Map([["k", copies()]]), n: copies() },
      ],
    ];
    for (const [value, copied] of cases) {
      const answer = serializeAnswer(value);
      expect(answer).toEqual(superjson.serialize(copied));
      expect(answer.meta?.referentialEqualities).toBeUndefined();
    }
    // Read back, each place has its own Date: changing one leaves the other.
    const read = superjson.deserialize<{ a: Date; b: Date }>(serializeAnswer({ a: shared, b: shared }));
    read.a.setUTCFullYear(2000);
    expect(read.b.toISOString()).toBe("2026-11-26T10:00:00.000Z");
  });

  it("does the work itself for plain answers and hands anything else to superjson", () => {
    const spy = vi.spyOn(superjson, "serialize");
    try {
      serializeAnswer({
        journey: { id: "j", createdAt: new Date(0), steps: [{ index: 0, name: undefined }] },
      });
      expect(spy).not.toHaveBeenCalled();
      serializeAnswer({ counts: new Map([["a", 1]]) });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it("annotates Dates and undefined at superjson's escaped paths, which superjson reads back", () => {
    const value = {
      journey: { createdAt: new Date(0), steps: [{ "a.b": new Date(1), "c\\d": undefined }] },
      "": { x: new Date(2) },
    };
    const answer = serializeAnswer(value);
    expect(answer).toEqual(superjson.serialize(value));
    expect(superjson.deserialize(answer)).toEqual(value);
  });
});
