import superjson from "superjson";

/** A tRPC input in superjson's encoding that this API does not take; its message is the answer. */
export class UnsupportedInputError extends Error {}

/**
 * The value annotations an input of this API can carry: members set to `undefined`, special
 * numbers, dates and bigints. No input holds a Set, a Map or a class instance, and those are
 * what makes decoding costly (a reference through a Set walks its entries).
 */
const acceptedAnnotations = new Set(["undefined", "number", "Date", "bigint"]);

const notTaken =
  "Malformed input: superjson Sets, Maps and classes are not taken; send arrays and plain objects";
const noSuchPlace = "Malformed input: its superjson meta names a place its json does not have";
const misfit = "Malformed input: a superjson annotation does not fit its value";

const index = /^(0|[1-9]\d*)$/;

/**
 * A superjson path's segments, read as superjson reads them: split at dots, where `\.` is a dot
 * within a key and, from version 1 of its format on, `\\` a backslash. Undefined when it is not
 * a path superjson would take.
 */
function segmentsOf(path: string, legacy: boolean): string[] | undefined {
  const segments: string[] = [];
  let segment = "";
  for (let i = 0; i < path.length; i++) {
    const char = path[i];
    const next = path[i + 1];
    if (char === "\\" && (next === "." || (!legacy && next === "\\"))) {
      segment += next;
      i++;
    } else if (char === "\\" && !legacy) return undefined;
    else if (char === ".") {
      segments.push(segment);
      segment = "";
    } else segment += char;
  }
  segments.push(segment);
  return segments;
}

/**
 * Whether a superjson path (`a.0.b`) names a place `json` already has. superjson would create a
 * missing one, and an index far past an array's end makes an array of that length (crashing the
 * process at 2^32): each path is walked here first, which costs its own length, so the whole
 * check costs at most the body's.
 */
function hasPlace(json: unknown, path: string, legacy: boolean): boolean {
  const segments = segmentsOf(path, legacy);
  if (segments === undefined) return false;
  let at = json;
  for (const segment of segments) {
    if (Array.isArray(at)) {
      if (!index.test(segment) || Number(segment) >= at.length) return false;
      at = at[Number(segment)];
    } else if (
      typeof at === "object" &&
      at !== null &&
      Object.hasOwn(at, segment) &&
      segment !== "__proto__"
    ) {
      at = (at as Record<string, unknown>)[segment];
    } else return false;
  }
  return true;
}

/**
 * What is wrong with an input's `meta.values`, if anything, before superjson acts on it:
 * annotations other than the accepted ones, annotations nested rather than one per path
 * (superjson copies the path so far for every nested entry), or paths to places the input does
 * not have.
 */
function metaProblem(json: unknown, meta: unknown): string | undefined {
  if (meta === undefined || meta === null) return undefined;
  if (typeof meta !== "object" || Array.isArray(meta)) return noSuchPlace;
  const { values, v } = meta as { values?: unknown; v?: unknown };
  const legacy = ((v ?? 0) as number) < 1; // as superjson compares it
  const annotation = (tree: unknown) =>
    Array.isArray(tree) && tree.length === 1 && acceptedAnnotations.has(tree[0]);
  if (Array.isArray(values)) {
    if (!annotation(values)) return notTaken;
  } else if (values !== undefined && values !== null) {
    if (typeof values !== "object") return notTaken;
    for (const [path, tree] of Object.entries(values)) {
      if (!annotation(tree)) return notTaken;
      if (!hasPlace(json, path, legacy)) return noSuchPlace;
    }
  }
  return undefined;
}

/**
 * An input in superjson's encoding (`{ json, meta }`), decoded. superjson reads anything else as
 * no input at all, so a raw `{"limit":1}` would quietly get the defaults: it is refused instead
 * (tRPC answers 400, which `mapErrors` words). An absent input never reaches here.
 */
export function deserializeInput(value: unknown): unknown {
  if (typeof value !== "object" || value === null || !Object.hasOwn(value, "json"))
    throw new Error("The input is not in superjson's encoding");
  const { json, meta } = value as { json: unknown; meta?: unknown };
  const problem = metaProblem(json, meta);
  if (problem) throw new UnsupportedInputError(problem);
  // References are left out: superjson writes every value in full in `json` and adds them only
  // to restore identity, which no input needs, while applied they could share one large value
  // into thousands of places for validation to walk. `json` was parsed for this call alone, so it
  // is annotated where it lies: superjson's copy of it would cost more than the rest of decoding.
  const { values, v } = (meta ?? {}) as { values?: unknown; v?: unknown };
  if (!values) return json;
  try {
    return superjson.deserialize(
      { json, meta: { values, v } } as Parameters<typeof superjson.deserialize>[0],
      {
        inPlace: true,
      },
    );
  } catch {
    throw new UnsupportedInputError(misfit); // a bigint of "a"
  }
}
