import { randomUUID } from "node:crypto";

// Synthetic form sessions, shared by `pnpm bench` and `pnpm bench:ingest`.

const TYPES = ["step_view", "field_focus", "field_focus", "field_error", "submit_attempt"];
const DEFAULT_STEPS = ["eligibility", "business-info", "financials", "documents", "review"];

export interface BenchEvent {
  id: string;
  type: string;
  sessionId: string;
  timestamp: string;
  stepKey?: string;
  field?: string;
  device?: string;
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
      id: randomUUID(),
      type: "session_start",
      sessionId,
      timestamp: new Date(t).toISOString(),
      device: Math.random() < 0.45 ? "mobile" : "desktop",
    });
    for (let i = 0; i < 9 && out.length < count; i++) {
      t += 5_000 + Math.floor(Math.random() * 60_000);
      const type = i === 8 && Math.random() < 0.5 ? "submit_success" : (TYPES[i % TYPES.length] as string);
      const stepKey = stepKeys[Math.min(Math.floor(i / 2), stepKeys.length - 1)];
      out.push({
        id: randomUUID(),
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
