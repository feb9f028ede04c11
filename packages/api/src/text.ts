import { z } from "zod";

/** Half of a UTF-16 surrogate pair without its other half: not text, and not encodable as UTF-8. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Text input. Postgres cannot store NUL, and a lone surrogate would be stored as U+FFFD (or
 * fail on the embedded database), so both are refused here with a 400 naming the field.
 */
export const text = () =>
  z
    .string()
    .refine((value) => !value.includes("\u0000"), { error: "must not contain NUL characters" })
    .refine((value) => !loneSurrogate.test(value), { error: "must be valid Unicode text" });
