import type { Context } from "hono";
import { trpcProceduresOf } from "../trpc-guards";
import type { ExemptElements } from "./json-body";

/**
 * A batch's events are validated one at a time, so that one bad event is rejected by its index
 * and does not sink the batch: the JSON limits leave the elements of `events` to that validation
 * (a body of events is bounded by its 512 KiB, and nothing walks an event's unknown members).
 * The same holds for `events.ingest` over tRPC, alone (`json.events[i]`) or in a batch of calls
 * (`<call>.json.events[i]`).
 */
export function eventElementsOf(c: Context): ExemptElements | undefined {
  const path = c.req.path;
  if (path === "/api/events")
    return (at) => (at[0] === "events" && typeof at[1] === "number" ? 2 : undefined);
  if (!path.startsWith("/trpc/") || !path.includes("events.ingest")) return undefined;
  const procedures = trpcProceduresOf(path);
  if (c.req.query("batch") !== "1")
    return procedures.length === 1 && procedures[0] === "events.ingest"
      ? (at) => (at[0] === "json" && at[1] === "events" && typeof at[2] === "number" ? 3 : undefined)
      : undefined;
  return (at) =>
    typeof at[0] === "string" &&
    procedures[Number(at[0])] === "events.ingest" &&
    /^\d+$/.test(at[0]) &&
    at[1] === "json" &&
    at[2] === "events" &&
    typeof at[3] === "number"
      ? 4
      : undefined;
}
