import type { IdPrefix } from "@odyssey/db";
import { z } from "zod";
import { ValidationError } from "./errors";
import { text } from "./text";
import { isStorableTime, type Subject } from "./validation";

// What every list shares: a page size, an opaque cursor naming the creation time and id of the
// row a page ended at, and keyset positions newest first by creation time (each list breaks ties
// between rows created in the same millisecond its own way).

// A REST query string carries limit as text: only decimal digits are read as a number, so `0x10`,
// `1e1`, ` 5` or an empty value are refused rather than read as something the caller never wrote.
const decimalText = /^-?\d+$/;

/**
 * Page size and position. Its input is typed as a number, so tRPC callers (and the client) must
 * send one; REST's text is read by `decimalText`.
 */
export const PageQuery = z.object({
  limit: z
    .preprocess<unknown, z.ZodNumber, number>(
      (value) => (typeof value === "string" && decimalText.test(value) ? Number(value) : value),
      z
        .number({ error: (issue) => (issue.code === "invalid_type" ? "must be a whole number" : undefined) })
        .int()
        .min(1)
        .max(100),
    )
    .default(20),
  cursor: text().max(500).optional(),
});

/** Where a page ended: the creation time and id of its last row. */
export interface Cursor {
  createdAt: Date;
  id: string;
}

interface CursorJson {
  createdAt: string;
  id: string;
}

/** The cursor of the page after the one that ends at `row`. */
export const encodeCursor = (row: Cursor) =>
  Buffer.from(
    JSON.stringify({ createdAt: row.createdAt.toISOString(), id: row.id } satisfies CursorJson),
  ).toString("base64url");

// Exactly what encodeCursor writes: anything else (a far-off year, a NUL in the id) would
// otherwise reach Postgres and fail there.
const cursorTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A time as encodeCursor writes it: a real date and time (not 31 February), one Postgres stores. */
function isCursorTime(value: string): boolean {
  if (!cursorTimestamp.test(value)) return false;
  const ms = Date.parse(value);
  return isStorableTime(ms) && new Date(ms).toISOString() === value;
}

/** Reads the cursors of one list: those of its rows' ids, all `prefix_…`. */
export function cursorReader(prefix: IdPrefix, subject: Subject): (cursor: string) => Cursor {
  const cursorId = new RegExp(`^${prefix}_[A-Za-z0-9]{1,64}$`);
  // Garbage, or another list's cursor, is a 400.
  return (cursor) => {
    try {
      const value = JSON.parse(
        Buffer.from(cursor, "base64url").toString("utf8"),
      ) as Partial<CursorJson> | null;
      if (
        typeof value?.createdAt === "string" &&
        typeof value.id === "string" &&
        isCursorTime(value.createdAt) &&
        cursorId.test(value.id)
      )
        return { createdAt: new Date(value.createdAt), id: value.id };
    } catch {}
    throw new ValidationError(`Invalid ${subject} data: cursor is not a cursor this API returned`);
  };
}
