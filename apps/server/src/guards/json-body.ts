import type { Subject } from "@odyssey/api";
import type { Context, MiddlewareHandler } from "hono";
import type { RestEnv } from "../rest/context";
import { trpcProceduresOf } from "../trpc-guards";
import { readBody } from "./body";
import type { FieldMaxLength } from "./field-limits";
import { formatJsonPath, type JsonPath, jsonPathAt } from "./json-path";
import { refuse } from "./refuse";

export interface JsonLimits {
  maxDepth: number;
  maxStringChars: number;
}

export interface JsonProblem {
  kind: "depth" | "string";
  /** Where the offending value starts in the text. */
  at: number;
}

/**
 * Where the limits do not apply: given the path of a value that breaks one, the number of
 * containers around the elements of the array it lies in (2 for `events[i]…` in a top-level
 * object) when that array's elements are checked one by one downstream, else undefined.
 */
export type ExemptElements = (path: JsonPath) => number | undefined;

/**
 * What is wrong with a JSON text, if anything, before any parser or validator walks it: nesting
 * deeper than the limit (recursive code downstream could overflow the stack) or strings longer
 * than the limit. One linear pass; the path of an offending value is only worked out for
 * `exempt`, once per exempt array. (NUL characters are refused by the contract schemas, which
 * name the field.)
 */
export function jsonProblem(
  text: string,
  limits: JsonLimits,
  exempt?: ExemptElements,
): JsonProblem | undefined {
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  // Characters of the current string's text beyond those it decodes to (`\n` is one, `\u00e9` one).
  let escapeExtra = 0;
  // While set, the scan is inside an exempt array (this many containers deep, or deeper).
  let exemptDepth: number | undefined;
  const isExempt = (at: number) => {
    if (exemptDepth === undefined && exempt) exemptDepth = exempt(jsonPathAt(text, at));
    return exemptDepth !== undefined;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c /* \ */) {
        const extra = text.charCodeAt(i + 1) === 0x75 /* u */ ? 5 : 1;
        escapeExtra += extra;
        i += extra;
      } else if (ch === 0x22 /* " */) {
        inString = false;
        if (i - stringStart - escapeExtra > limits.maxStringChars && !isExempt(stringStart - 1))
          return { kind: "string", at: stringStart - 1 };
      }
    } else if (ch === 0x22) {
      inString = true;
      stringStart = i + 1;
      escapeExtra = 0;
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      if (++depth > limits.maxDepth && !isExempt(i)) return { kind: "depth", at: i };
    } else if (ch === 0x7d || ch === 0x5d) {
      if (--depth < (exemptDepth ?? 0)) exemptDepth = undefined;
    }
  }
  if (
    inString &&
    text.length - stringStart - escapeExtra > limits.maxStringChars &&
    !isExempt(stringStart - 1)
  )
    return { kind: "string", at: stringStart - 1 };
  return undefined;
}

/**
 * The refusal's message, in the words of the validators that would otherwise answer:
 * `Invalid journey data: displayName must be at most 255 characters`, with the field's own
 * maximum when the contract sets a lower one than the server's. A tRPC text's own wrapping
 * (`{"json": …}`, and the call's number in a batch) is left out of the path.
 */
export function jsonProblemMessage(
  c: Context,
  text: string,
  problem: JsonProblem,
  limits: JsonLimits,
  fieldMaxLength?: FieldMaxLength,
): string {
  let path = jsonPathAt(text, problem.at);
  let call = 0;
  if (c.req.path.startsWith("/trpc/")) {
    if (typeof path[0] === "string" && /^\d+$/.test(path[0]) && path[1] === "json") {
      call = Number(path[0]);
      path = path.slice(2);
    } else if (path[0] === "json") path = path.slice(1);
  }
  const subject = subjectOf(c.req.path, call);
  if (problem.kind === "depth") {
    // The member it is in, not the dozens of levels down to where the limit is passed.
    const member = formatJsonPath(path.slice(0, 1)) || "the body";
    return `Invalid ${subject} data: ${member} must not be nested more than ${limits.maxDepth} levels deep`;
  }
  const value = formatJsonPath(path) || "the body";
  const max = Math.min(limits.maxStringChars, fieldMaxLength?.(c, path, call) ?? Number.POSITIVE_INFINITY);
  return `Invalid ${subject} data: ${value} must be at most ${max} characters`;
}

/** Whose data a request (or the call of a tRPC batch) carries, as the validators name it. */
function subjectOf(path: string, call: number): Subject {
  const target = path.startsWith("/trpc/") ? `/trpc/${trpcProceduresOf(path)[call] ?? ""}` : path;
  if (target.startsWith("/api/journeys") || target.startsWith("/trpc/journeys.")) return "journey";
  if (target === "/api/events" || target.startsWith("/trpc/events.")) return "event";
  return "request";
}

const hasBody = (method: string) =>
  method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE";

/**
 * Reads the body once as strict UTF-8 and checks it with `jsonProblem`; tRPC's GET input (in the
 * query string) gets the same check. The text read is handed on, so later readers see it: Hono's
 * readers (`c.req.text()`, `c.req.json()`, the validators) from its body cache, parsed at most
 * once and only if asked; tRPC, which reads the web Request itself, from a new Request carrying
 * the text (`rebuildRequest`). With `malformedMessage`, a body that is not blank is parsed here,
 * and refused with that message when it is not JSON, also on routes that ignore their body.
 */
export function jsonBodyLimits(
  limits: JsonLimits,
  {
    rebuildRequest,
    exemptOf,
    malformedMessage,
    fieldMaxLength,
  }: {
    rebuildRequest: boolean;
    exemptOf?: (c: Context) => ExemptElements | undefined;
    malformedMessage?: (c: Context) => string;
    fieldMaxLength?: FieldMaxLength;
  },
): MiddlewareHandler<RestEnv> {
  return async (c, next) => {
    // Only a URL with a query string is parsed (most requests have none).
    const queryAt = c.req.url.indexOf("?");
    const input = queryAt < 0 ? null : new URLSearchParams(c.req.url.slice(queryAt + 1)).get("input");
    const queryProblem = input === null ? undefined : jsonProblem(input, limits);
    if (input !== null && queryProblem)
      return refuse(c, 400, jsonProblemMessage(c, input, queryProblem, limits, fieldMaxLength));
    if (!hasBody(c.req.method)) return next();

    const bytes = await readBody(c); // A body over the size limit is refused here, with a 413.
    if (bytes instanceof Response) return bytes;
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return refuse(c, 400, "The request body is not valid UTF-8");
    }
    const problem = jsonProblem(text, limits, exemptOf?.(c));
    if (problem) return refuse(c, 400, jsonProblemMessage(c, text, problem, limits, fieldMaxLength));
    // Hono keeps each reader's promise in the cache (its type names the resolved values).
    const cache = c.req.bodyCache;
    Object.assign(cache, { text: Promise.resolve(text) });
    let parsed: Promise<unknown> | undefined;
    if (malformedMessage && text.trim() !== "") {
      try {
        parsed = Promise.resolve(JSON.parse(text));
      } catch {
        return refuse(c, 400, malformedMessage(c));
      }
    }
    Object.defineProperty(cache, "json", { enumerable: true, get: () => (parsed ??= parseJson(text)) });
    if (rebuildRequest) c.req.raw = new Request(c.req.raw, { body: text });
    return next();
  };
}

/** JSON.parse as a promise, as `Request.json()` answers: malformed text rejects with a SyntaxError. */
function parseJson(text: string): Promise<unknown> {
  try {
    return Promise.resolve(JSON.parse(text));
  } catch (error) {
    return Promise.reject(error);
  }
}
