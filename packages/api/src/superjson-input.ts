import superjson from "superjson";

/** A tRPC input in superjson's encoding that this API does not take; its message is the answer. */
export class UnsupportedInputError extends Error {}

/**
 * The value annotations an input of this API can carry: members set to `undefined`, special
 * numbers, dates and bigints. Sets, Maps, classes and the rest are refused: no input holds one,
 * and a reference through a Set or Map costs superjson a walk of its entries, so a crafted 512 KiB
 * body could take seconds of the event loop to decode.
 */
const acceptedAnnotations = new Set(["undefined", "number", "Date", "bigint"]);

/** Whether a `meta.values` tree (`[annotation]`, or `{path: tree}`) holds only accepted ones. */
function plainAnnotations(tree: unknown): boolean {
  if (Array.isArray(tree)) return tree.length === 1 && acceptedAnnotations.has(tree[0]);
  if (typeof tree !== "object" || tree === null) return false;
  return Object.values(tree).every(plainAnnotations);
}

/**
 * An input in superjson's encoding (`{ json, meta }`), decoded. superjson reads anything else as
 * no input at all, so a raw `{"limit":1}` would quietly get the defaults: it is refused instead
 * (tRPC answers 400, which `mapErrors` words). An absent input never reaches here.
 */
export function deserializeInput(value: unknown): unknown {
  if (typeof value !== "object" || value === null || !Object.hasOwn(value, "json"))
    throw new Error("The input is not in superjson's encoding");
  const { meta } = value as { meta?: { values?: unknown } };
  if (meta?.values !== undefined && !plainAnnotations(meta.values))
    throw new UnsupportedInputError(
      "Malformed input: superjson Sets, Maps and classes are not taken; send arrays and plain objects",
    );
  return superjson.deserialize(value as Parameters<typeof superjson.deserialize>[0]);
}
