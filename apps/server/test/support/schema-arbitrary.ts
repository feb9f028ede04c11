import fc from "fast-check";

// fast-check arbitraries from JSON Schemas (the OpenAPI document's, or zod's toJSONSchema), and
// the ways hostile clients bend a valid value.

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  default?: unknown;
};

/** Values the schema accepts, mostly; refinements JSON Schema cannot say (origins) may still fail. */
export function arbitraryFor(schema: Schema): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map(arbitraryFor));
  if (Array.isArray(schema.type))
    return fc.oneof(...schema.type.map((type) => arbitraryFor({ ...schema, type })));
  switch (schema.type) {
    case "string": {
      const minLength = schema.minLength ?? 0;
      const maxLength = Math.min(schema.maxLength ?? 40, 40);
      if (schema.pattern)
        return fc
          .stringMatching(new RegExp(schema.pattern))
          .filter((s) => s.length >= minLength && s.length <= (schema.maxLength ?? Number.POSITIVE_INFINITY));
      return fc.string({ minLength, maxLength: Math.max(minLength, maxLength) });
    }
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case "number":
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(schema.items ? arbitraryFor(schema.items) : fc.jsonValue(), {
        maxLength: Math.min(schema.maxItems ?? 3, 3),
      });
    case "object": {
      const properties = schema.properties ?? {};
      return fc.record(Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, arbitraryFor(v)])), {
        requiredKeys: (schema.required ?? []).filter((k) => k in properties),
      });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Strings meant to break things: NUL, lone surrogates, huge, SQL and path tricks, prototype names. */
export const hostileString = fc.oneof(
  fc.constantFrom(
    "\u0000",
    "a\u0000b",
    "\ud800",
    "\udfff\ud800",
    "💥".repeat(50),
    "'; drop table journeys; --",
    "../../etc/passwd",
    "%00",
    "%",
    "__proto__",
    "constructor",
    "",
    " ",
    "\r\n\r\n",
    "<script>alert(1)</script>",
  ),
  fc.integer({ min: 256, max: 200_000 }).map((n) => "x".repeat(n)),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
);

const otherType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  hostileString,
);

/** Every path to a value inside `value` (the root included). */
function pathsOf(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (value && typeof value === "object" && out.length < 200)
    for (const [k, v] of Object.entries(value))
      pathsOf(v, [...prefix, Array.isArray(value) ? Number(k) : k], out);
  return out;
}

function setAt(
  value: unknown,
  path: (string | number)[],
  replace: (old: unknown) => unknown | typeof REMOVE,
): unknown {
  if (path.length === 0) {
    const next = replace(value);
    return next === REMOVE ? undefined : next;
  }
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
    string | number,
    unknown
  >;
  const next = setAt(copy[head], rest, replace);
  if (rest.length === 0 && replace(copy[head]) === REMOVE) {
    if (Array.isArray(copy)) copy.splice(Number(head), 1);
    else delete copy[head];
  } else
    Object.defineProperty(copy, head, { value: next, enumerable: true, writable: true, configurable: true });
  return copy;
}
const REMOVE = Symbol("remove");

/** Nesting `depth` levels deep, built only when serialized (so reports of failures stay short). */
class Deep {
  constructor(
    readonly depth: number,
    readonly inner: unknown,
  ) {}
  toJSON(): unknown {
    let nested: unknown = this.inner;
    for (let i = 0; i < this.depth; i++) nested = i % 2 ? [nested] : { a: nested };
    return nested;
  }
  [fc.toStringMethod](): string {
    return `Deep(${this.depth})`;
  }
}

export type Mutation =
  | "valid"
  | "wrong type"
  | "missing field"
  | "extra field"
  | "hostile string"
  | "deep nesting";

/** A valid value, or one bent in one of the ways hostile clients bend them. */
export function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<{ mutation: Mutation; value: unknown }> {
  return fc
    .tuple(
      valid,
      fc.constantFrom<Mutation>(
        "valid",
        "wrong type",
        "missing field",
        "extra field",
        "hostile string",
        "deep nesting",
      ),
      fc.nat(),
      otherType,
      hostileString,
      fc.constantFrom("__proto__", "constructor", "prototype", "orgId", "id", "createdAt", "extra"),
      fc.integer({ min: 10, max: 3000 }),
    )
    .map(([value, mutation, pick, other, hostile, extraKey, depth]) => {
      const paths = pathsOf(value);
      const path = paths[pick % paths.length] ?? [];
      const inner = paths.filter((p) => p.length > 0);
      const innerPath = inner[pick % Math.max(1, inner.length)] ?? [];
      switch (mutation) {
        case "valid":
          return { mutation, value };
        case "wrong type":
          return { mutation, value: setAt(value, path, () => other) };
        case "missing field":
          return { mutation, value: innerPath.length ? setAt(value, innerPath, () => REMOVE) : undefined };
        case "extra field":
          return {
            mutation,
            value: setAt(value, path.slice(0, -1), (old) =>
              old && typeof old === "object" && !Array.isArray(old)
                ? Object.defineProperty({ ...old }, extraKey, { value: other, enumerable: true })
                : old,
            ),
          };
        case "hostile string":
          return { mutation, value: setAt(value, path, () => hostile) };
        default: // deep nesting
          return {
            mutation,
            value: setAt(value, innerPath.length ? innerPath : [], (old) => new Deep(depth, old)),
          };
      }
    });
}

export type Encoding = "json" | "truncated" | "invalid utf-8" | "wrong content type" | "empty";

/** The bytes and content type a body travels with: right, or wrong in one way. */
export const encodings = fc.record({
  encoding: fc.constantFrom<Encoding>(
    "json",
    "json",
    "json",
    "truncated",
    "invalid utf-8",
    "wrong content type",
    "empty",
  ),
  cut: fc.double({ min: 0, max: 1, noNaN: true }),
  badBytes: fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]),
  contentType: fc.constantFrom(
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/json; charset=utf-16",
    "",
  ),
});

export function encode(
  value: unknown,
  how: { encoding: Encoding; cut: number; badBytes: readonly number[]; contentType: string },
): { body: Uint8Array | string | undefined; contentType: string | undefined } {
  const text = value === undefined ? "" : JSON.stringify(value);
  switch (how.encoding) {
    case "json":
      return { body: text, contentType: "application/json" };
    case "truncated":
      return { body: text.slice(0, Math.floor(text.length * how.cut)), contentType: "application/json" };
    case "invalid utf-8": {
      const bytes = Buffer.from(text);
      const at = Math.floor(bytes.length * how.cut);
      return {
        body: Buffer.concat([bytes.subarray(0, at), Buffer.from(how.badBytes), bytes.subarray(at)]),
        contentType: "application/json",
      };
    }
    case "wrong content type":
      return { body: text, contentType: how.contentType || undefined };
    case "empty":
      return { body: undefined, contentType: "application/json" };
  }
}
