import { z } from "zod";

/** Half of a UTF-16 surrogate pair without its other half: not text, and not encodable as UTF-8. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Any NUL or surrogate: text without one (nearly all) needs no closer look. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it looks for.
const suspect = /[\u0000\ud800-\udfff]/;

const mustNotHoldNul = "must not contain NUL characters";
/** Any control character (C0, DEL, C1): NUL, tabs and line breaks among them. */
const controlCharacter = /\p{Cc}/u;

/**
 * Why a value that must be free of control characters is refused (NUL worded as `text()` words
 * it), or undefined when it has none: for the fields where a tab or a line break would be taken
 * in silently or break a line of output.
 */
export function controlCharacterProblem(value: string): string | undefined {
  const control = controlCharacter.exec(value)?.[0];
  if (control === undefined) return undefined;
  return control === "\u0000"
    ? mustNotHoldNul
    : "must not contain control characters (such as a tab or a line break)";
}

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
    if (value.includes("\u0000")) refuse(mustNotHoldNul);
    if (loneSurrogate.test(value)) refuse("must be valid Unicode text");
  });
