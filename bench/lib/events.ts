import { randomBytes } from "node:crypto";
import type { EventType } from "@odyssey/api";

// Synthetic form sessions, shared by `pnpm bench`, `pnpm bench:ingest` and `pnpm bench:statement`.

const TYPES: EventType[] = ["step_view", "field_focus", "field_focus", "field_error", "submit_attempt"];
export const DEFAULT_STEPS = ["eligibility", "business-info", "financials", "documents", "review"];

interface BenchEventFields {
  id: string;
  sessionId: string;
  timestamp: string;
  stepKey?: string;
  field?: string;
  device?: "mobile" | "desktop";
}
/** An event as the API types it: a `step_view` names its step. */
export type BenchEvent =
  | (BenchEventFields & { type: Exclude<EventType, "step_view"> })
  | (BenchEventFields & { type: "step_view"; stepKey: string });

/** A version 7 UUID (time-ordered), as a form's script would make them: ids of one moment sort together. */
function uuidv7(atMs: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Math.max(0, Math.floor(atMs)), 0, 6);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Sessions of ~10 events each, starting in [fromMs, toMs), over the given step keys. */
export function events(
  count: number,
  fromMs: number,
  toMs: number,
  prefix: string,
  stepKeys: readonly string[] = DEFAULT_STEPS,
): BenchEvent[] {
  const out: BenchEvent[] = [];
  let session = 0;
  while (out.length < count) {
    const sessionId = `${prefix}-${session++}`;
    let t = fromMs + Math.floor(Math.random() * (toMs - fromMs));
    out.push({
      id: uuidv7(t),
      type: "session_start",
      sessionId,
      timestamp: new Date(t).toISOString(),
      device: Math.random() < 0.45 ? "mobile" : "desktop",
    });
    for (let i = 0; i < 9 && out.length < count; i++) {
      t += 5_000 + Math.floor(Math.random() * 60_000);
      const type: EventType =
        i === 8 && Math.random() < 0.5 ? "submit_success" : (TYPES[i % TYPES.length] as EventType);
      const stepKey = stepKeys[Math.min(Math.floor(i / 2), stepKeys.length - 1)] ?? "";
      out.push({
        id: uuidv7(Math.min(t, toMs)),
        type,
        sessionId,
        timestamp: new Date(Math.min(t, toMs)).toISOString(),
        stepKey,
        field: type.startsWith("field") ? "name" : undefined,
      });
    }
  }
  return out;
}

/** The list cut into consecutive batches of `size` events (the last one may be shorter). */
export function inBatches<T>(list: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < list.length; i += size) batches.push(list.slice(i, i + size));
  return batches;
}
