import { z } from "zod";

/** Half of a UTF-16 surrogate pair without its other half: not text, and not encodable as UTF-8. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Any NUL or surrogate: text without one (nearly all) needs no closer look. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it looks for.
const suspect = /[\u0000\ud800-\udfff]/;

/**
 * Text input. Postgres cannot store NUL, and a lone surrogate would be stored as U+FFFD (or
 * fail on the embedded database), so both are refused here with a 400 naming the field. One check
 * with one scan for the common case: every event carries several texts, and each check zod runs
 * costs a call and its bookkeeping.
 */
export const text = () =>
  z.string().check((ctx) => {
    const { value } = ctx;
    if (!suspect.test(value)) return;
    // Both are reported when both hold, as two refinements would.
    const refuse = (message: string) =>
      ctx.issues.push({ code: "custom", message, input: value, continue: true });
    if (value.includes("\u0000")) refuse("must not contain NUL characters");
    if (loneSurrogate.test(value)) refuse("must be valid Unicode text");
  });
