import superjson, { type SuperJSONResult } from "superjson";

/**
 * `superjson.serialize` in one pass for what procedures answer: plain objects and arrays of
 * strings, finite numbers, booleans, null, undefined and valid Dates, each object reached once.
 * superjson's general walker cost a third of a `journeys.get` call's CPU. Anything else (a Map,
 * a bigint, NaN, -0, a class instance, an object reached twice, a key superjson refuses) goes to
 * superjson itself, so the wire format is superjson's whatever the value, and `@odyssey/client`
 * reads it with superjson.
 *
 * One difference, on both paths: references are never recorded (`referentialEqualities`). The
 * `json` holds every value in full, and a caller's answer must not share one mutable object
 * between places (a created journey's `createdAt` and `updatedAt` are one Date in the operation;
 * set one in the caller and the other would change with it).
 */
export function serializeAnswer(value: unknown): SuperJSONResult {
  if (typeof value !== "object" || value === null || !(Array.isArray(value) || isPlainObject(value)))
    return withoutReferences(superjson.serialize(value));
  const walk = new AnswerWalk();
  const json = walk.visit(value, undefined);
  if (walk.unsupported) return withoutReferences(superjson.serialize(value));
  return walk.annotated
    ? { json: json as never, meta: { values: walk.values, v: 1 } }
    : { json: json as never };
}

class AnswerWalk {
  readonly values: Record<string, ["Date" | "undefined"]> = {};
  annotated = false;
  unsupported = false;
  private readonly seen = new Set<object>();

  /** The JSON form of `value`, found at the escaped path `path` (undefined for the root). */
  visit(value: unknown, path: string | undefined): unknown {
    if (value === null || typeof value === "string" || typeof value === "boolean") return value;
    if (typeof value === "number") {
      if (!Number.isFinite(value) || Object.is(value, -0)) this.unsupported = true;
      return value;
    }
    if (value === undefined) return this.annotate(path, "undefined", null);
    if (typeof value !== "object") {
      this.unsupported = true;
      return null;
    }
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) {
        this.unsupported = true;
        return null;
      }
      return this.annotate(path, "Date", value.toISOString());
    }
    // An object reached twice could be a cycle: superjson's walker handles it.
    if (this.seen.has(value)) {
      this.unsupported = true;
      return null;
    }
    this.seen.add(value);
    if (Array.isArray(value)) {
      const out: unknown[] = new Array(value.length);
      for (let i = 0; i < value.length && !this.unsupported; i++) {
        if (!(i in value)) this.unsupported = true; // a hole
        out[i] = this.visit(value[i], child(path, String(i)));
      }
      return out;
    }
    if (!isPlainObject(value)) {
      this.unsupported = true;
      return null;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (key === "__proto__" || key === "constructor" || key === "prototype" || this.unsupported) {
        this.unsupported = true;
        break;
      }
      out[key] = this.visit((value as Record<string, unknown>)[key], child(path, key));
    }
    return out;
  }

  private annotate(path: string | undefined, type: "Date" | "undefined", json: unknown): unknown {
    if (path === undefined) {
      this.unsupported = true; // a root value is annotated differently
      return null;
    }
    this.values[path] = [type];
    this.annotated = true;
    return json;
  }
}

/** superjson's answer without its references: each place then reads back its own copy. */
export function withoutReferences(result: SuperJSONResult): SuperJSONResult {
  if (!result.meta?.referentialEqualities) return result;
  const { referentialEqualities: _, ...meta } = result.meta;
  return meta.values ? { json: result.json, meta } : { json: result.json };
}

/** superjson's path syntax: keys joined by ".", with "\" and "." escaped in each key. */
function child(path: string | undefined, key: string): string {
  const escaped =
    key.includes("\\") || key.includes(".") ? key.replace(/\\/g, "\\\\").replace(/\./g, "\\.") : key;
  return path === undefined ? escaped : `${path}.${escaped}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
