import * as contract from "@odyssey/api";
import { z } from "zod";

/**
 * The contract's object schemas by the names @odyssey/api exports them under. Each becomes one
 * component of the OpenAPI document, referenced wherever it appears, so a client generated from
 * the document has one `Step` type rather than a copy per place a step appears.
 */
const componentNames = new Map<unknown, string>(
  Object.entries(contract).flatMap(([name, value]) => (value instanceof z.ZodObject ? [[value, name]] : [])),
);

/** Each contract schema's wire form, made once: a component is one schema object. */
const made = new WeakMap<z.ZodType, z.ZodType>();

/**
 * The JSON form of a contract schema: every `Date` becomes an ISO-8601 string, the way
 * JSON.stringify sends it. Derived, never retyped, so REST and OpenAPI follow the contract.
 */
export function wire<T extends z.ZodType>(schema: T): z.ZodType {
  return toWire(schema as unknown as z.ZodType);
}

function toWire(schema: z.ZodType): z.ZodType {
  const known = made.get(schema);
  if (known) return known;
  let result = wireForm(schema);
  // What the contract says of a schema (its description) stays with its wire form.
  const meta = result === schema ? undefined : schema.meta();
  const name = componentNames.get(schema);
  if (meta !== undefined || name !== undefined)
    result = result.meta({ ...meta, ...(name === undefined ? {} : { id: name }) });
  made.set(schema, result);
  return result;
}

function wireForm(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodDate) return z.iso.datetime();
  if (schema instanceof z.ZodObject)
    return z.object(
      Object.fromEntries(Object.entries(schema.shape).map(([k, v]) => [k, toWire(v as z.ZodType)])),
    );
  if (schema instanceof z.ZodArray) return z.array(toWire(schema.element as z.ZodType));
  if (schema instanceof z.ZodNullable) {
    const inner = toWire(schema.unwrap() as z.ZodType);
    // A component made nullable would be documented as a nullable component, so a null beside a
    // component is said as a union: `anyOf: [{"$ref"}, {"type": "null"}]`.
    return inner.meta()?.id === undefined ? inner.nullable() : z.union([inner, z.null()]);
  }
  if (schema instanceof z.ZodOptional) return toWire(schema.unwrap() as z.ZodType).optional();
  if (schema instanceof z.ZodRecord)
    return z.record(schema.keyType as z.ZodType<string>, toWire(schema.valueType as z.ZodType));
  return schema;
}
