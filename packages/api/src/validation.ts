import type { z } from "zod";

/** What the data is called in messages: "Invalid journey data: …". */
export type Subject = "journey" | "event" | "request";

function fieldName(path: readonly PropertyKey[]): string {
  let name = "";
  for (const part of path) {
    if (typeof part === "number") name += `[${part}]`;
    else name += name ? `.${String(part)}` : String(part);
  }
  return name;
}

/**
 * The instants the service stores and answers: years 0001 to 9999 in UTC, after a time's offset
 * is applied. Postgres refuses year 0000 (1 BC), and a time past year 9999 is written in ISO 8601
 * with six year digits (`+010000-…`), which Postgres cannot read.
 */
export const STORABLE_TIMES = {
  earliestMs: Date.parse("0001-01-01T00:00:00.000Z"),
  latestMs: Date.parse("9999-12-31T23:59:59.999Z"),
  /** The range as messages name it. */
  described: "a time in the years 0001 to 9999 (UTC)",
} as const;

/** Whether the instant `ms` (milliseconds since the epoch) is one the service can store. */
export function isStorableTime(ms: number): boolean {
  return ms >= STORABLE_TIMES.earliestMs && ms <= STORABLE_TIMES.latestMs;
}

/**
 * The issue a message describes: the first, except that zod's integer checks report the
 * safe-integer range before the schema's own bounds; a bound the schema sets itself on the same
 * field is the one worth naming.
 */
export function primaryIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue | undefined {
  const first = issues[0];
  if (!first || !isSafeIntegerBound(first)) return first;
  return (
    issues.find(
      (other) =>
        other !== first &&
        other.code === first.code &&
        !isSafeIntegerBound(other) &&
        samePath(other.path, first.path),
    ) ?? first
  );
}

function isSafeIntegerBound(issue: z.core.$ZodIssue): boolean {
  return (
    (issue.code === "too_big" && issue.origin === "int" && issue.maximum === Number.MAX_SAFE_INTEGER) ||
    (issue.code === "too_small" && issue.origin === "int" && issue.minimum === Number.MIN_SAFE_INTEGER)
  );
}

function samePath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

/**
 * What the whole of what was sent is called: the body of a request, or the input of a tRPC
 * query (which has no body: it comes in the `input` query parameter).
 */
export type Whole = "body" | "input";

/** One human sentence naming the field, from one zod issue (see `primaryIssue`). */
export function describeIssue(issue: z.core.$ZodIssue, whole: Whole = "body"): string {
  const field = fieldName(issue.path) || whole;
  // Schemas write their own messages as predicates ("must …"); the field name goes in front.
  if (/^(must|is|has) /.test(issue.message)) return `${field} ${issue.message}`;
  switch (issue.code) {
    case "invalid_type":
      // zod leaves the input out of issues; its own message says what was received.
      return issue.message.endsWith("received undefined")
        ? `${field} is required`
        : `${field} must be ${article(issue.expected)}`;
    case "too_big":
      return issue.origin === "string"
        ? `${field} must be at most ${issue.maximum} characters`
        : issue.origin === "array"
          ? `${field} must have at most ${issue.maximum} items`
          : `${field} must be at most ${issue.maximum}`;
    case "too_small":
      return issue.origin === "string"
        ? Number(issue.minimum) === 1
          ? `${field} must not be empty`
          : `${field} must be at least ${issue.minimum} characters`
        : issue.origin === "array"
          ? `${field} must have at least ${issue.minimum} items`
          : `${field} must be at least ${issue.minimum}`;
    case "invalid_value":
      return `${field} must be one of: ${issue.values.map(String).join(", ")}`;
    case "invalid_format":
      return `${field} must be a valid ${issue.format}`;
    case "unrecognized_keys":
      return `${field} has unknown fields: ${issue.keys.join(", ")}`;
    default:
      return `${field} is invalid`;
  }
}

function article(expected: string): string {
  if (expected === "int") return "an integer";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/**
 * What a request without a body (a tRPC call without input) is told, on REST and tRPC alike.
 * Event batches, which beacons send as text, are told the same as for a body that is not JSON.
 */
export function missingBodyMessage(subject: Subject): string {
  return subject === "event"
    ? malformedBodyMessage(subject)
    : `Invalid ${subject} data: body must be a JSON object`;
}

/** What a tRPC query without input (a GET without the `input` query parameter) is told. */
export function missingInputMessage(subject: Subject): string {
  return `Invalid ${subject} data: input must be a JSON object, sent as the input query parameter`;
}

/** What a request whose body is not JSON is told, on REST and tRPC alike. */
export function malformedBodyMessage(subject: Subject): string {
  return subject === "event"
    ? "Invalid event data: the body is not valid JSON"
    : "Malformed JSON in request body";
}

export function formatValidationError(error: z.ZodError, subject: Subject, whole: Whole = "body"): string {
  const issue = primaryIssue(error.issues);
  return `Invalid ${subject} data: ${issue ? describeIssue(issue, whole) : `the ${whole} is invalid`}`;
}

/**
 * The most characters `schema` allows for the string at `path` (member names and array indexes),
 * when it sets a maximum there; undefined when it sets none or the path leads nowhere.
 */
export function maxLengthAt(schema: z.ZodType, path: readonly (string | number)[]): number | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: zod's definitions differ by type; each case reads its own.
  const def = schema._zod.def as any;
  const [head, ...rest] = path;
  switch (def.type) {
    case "string":
      return path.length === 0 ? ((schema as z.ZodString).maxLength ?? undefined) : undefined;
    case "object": {
      const member = typeof head === "string" && Object.hasOwn(def.shape, head) ? def.shape[head] : undefined;
      return member ? maxLengthAt(member, rest) : undefined;
    }
    case "array":
      return typeof head === "number" ? maxLengthAt(def.element, rest) : undefined;
    case "record":
      return typeof head === "string" ? maxLengthAt(def.valueType, rest) : undefined;
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "nonoptional":
    case "catch":
      return maxLengthAt(def.innerType, path);
    case "pipe":
      return maxLengthAt(def.in, path);
    case "lazy":
      return maxLengthAt(def.getter(), path);
    default:
      return undefined;
  }
}
