import { z } from "zod";

/**
 * The JSON form of a contract schema: every `Date` becomes an ISO-8601 string, the way
 * JSON.stringify sends it. Derived, never retyped, so REST and OpenAPI follow the contract.
 */
export function wire<T extends z.ZodType>(schema: T): z.ZodType {
  return toWire(schema as unknown as z.ZodType);
}

function toWire(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodDate) return z.iso.datetime();
  if (schema instanceof z.ZodObject)
    return z.object(
      Object.fromEntries(Object.entries(schema.shape).map(([k, v]) => [k, toWire(v as z.ZodType)])),
    );
  if (schema instanceof z.ZodArray) return z.array(toWire(schema.element as z.ZodType));
  if (schema instanceof z.ZodNullable) return toWire(schema.unwrap() as z.ZodType).nullable();
  if (schema instanceof z.ZodOptional) return toWire(schema.unwrap() as z.ZodType).optional();
  if (schema instanceof z.ZodRecord)
    return z.record(schema.keyType as z.ZodType<string>, toWire(schema.valueType as z.ZodType));
  return schema;
}
