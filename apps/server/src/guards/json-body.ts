import type { MiddlewareHandler } from "hono";
import { refuse } from "./refuse";

export interface JsonLimits {
  maxDepth: number;
  maxStringChars: number;
}

/**
 * What is wrong with a JSON text, if anything, before any parser or validator walks it: nesting
 * deeper than the limit (recursive code downstream could overflow the stack) or strings longer
 * than the limit. One linear pass. (NUL characters are refused by the contract schemas, which
 * name the field.)
 */
export function jsonProblem(text: string, limits: JsonLimits): string | undefined {
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) {
        inString = false;
        if (i - stringStart > limits.maxStringChars)
          return `strings must be at most ${limits.maxStringChars} characters`;
      }
    } else if (ch === 0x22) {
      inString = true;
      stringStart = i + 1;
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      if (++depth > limits.maxDepth) return `nesting must be at most ${limits.maxDepth} levels deep`;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  if (inString && text.length - stringStart > limits.maxStringChars)
    return `strings must be at most ${limits.maxStringChars} characters`;
  return undefined;
}

const hasBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH";

/**
 * Reads the body once as strict UTF-8 and checks it with `jsonProblem`; tRPC's GET input (in the
 * query string) gets the same check. The text read is handed on, so later readers see it.
 */
export function jsonBodyLimits(limits: JsonLimits): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const input = url.searchParams.get("input");
    const queryProblem = input === null ? undefined : jsonProblem(input, limits);
    if (queryProblem) return refuse(c, 400, `Invalid request data: input ${queryProblem}`);
    if (!hasBody(c.req.method)) return next();

    const bytes = await c.req.arrayBuffer(); // A body over the size limit fails here, as a 413.
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return refuse(c, 400, "The request body is not valid UTF-8");
    }
    const problem = jsonProblem(text, limits);
    if (problem) return refuse(c, 400, `Invalid request data: ${problem}`);
    c.req.raw = new Request(c.req.raw, { body: text });
    return next();
  };
}
