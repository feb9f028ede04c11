// An independent reference for Retrieve's analytics: a plain computation over the raw batches
// as they were sent, written from the definitions of the events and analytics contract and the window
// edges in docs/analytics.md. It shares no code with the server.

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** The event types, in the spec's order. */
export const TYPES = [
  "session_start",
  "step_view",
  "field_focus",
  "field_error",
  "submit_attempt",
  "submit_success",
  "submit_failure",
] as const;

export interface RawEvent {
  id: string;
  type: string;
  sessionId: string;
  timestamp: string;
  stepKey?: string;
  device?: string;
}

export interface SentBatch {
  receivedAt: Date;
  sentAt?: string;
  /** What the request's headers say about the device (the test knows it for each header set). */
  headerDevice: string | null;
  events: RawEvent[];
}

export interface ReferenceStep {
  id: string;
  stepKey: string;
  name: string | null;
  index: number;
}

interface Kept {
  id: string;
  type: string;
  sessionId: string;
  time: number;
  stepKey?: string;
  device: string | null;
}

/** The events as stored: corrected times, first copy of each id, device filled in. */
export function keptEvents(batches: SentBatch[]): Kept[] {
  const seen = new Set<string>();
  const kept: Kept[] = [];
  for (const batch of batches) {
    const received = batch.receivedAt.getTime();
    for (const e of batch.events) {
      const id = e.id.toLowerCase();
      if (seen.has(id)) continue;
      seen.add(id);
      let time = Date.parse(e.timestamp);
      if (batch.sentAt !== undefined) time = received + (time - Date.parse(batch.sentAt));
      if (time > received + 5 * MIN) time = received;
      kept.push({
        id,
        type: e.type,
        sessionId: e.sessionId,
        time,
        stepKey: e.stepKey,
        device: e.device ?? batch.headerDevice,
      });
    }
  }
  return kept;
}

/** percentile_cont as Postgres computes it: linear interpolation at p·(n−1) of the sorted values. */
function percentileCont(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const position = p * (sorted.length - 1);
  const lo = Math.floor(position);
  const hi = Math.ceil(position);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (position - lo);
}

function nearestSecond(ms: number | null): number | null {
  if (ms === null) return null;
  const s = ms / 1000;
  const r = s < 0 ? -Math.round(-s) : Math.round(s);
  return r === 0 ? 0 : r;
}

const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
const byteOrder = (a: string, b: string) =>
  Buffer.from(a) < Buffer.from(b) ? -1 : Buffer.from(a) > Buffer.from(b) ? 1 : 0;

export function referenceAnalytics(input: { steps: ReferenceStep[]; batches: SentBatch[]; now: Date }) {
  const now = input.now.getTime();
  const events = keptEvents(input.batches);
  const steps = [...input.steps].sort((a, b) => a.index - b.index);
  const stepByKey = new Map(steps.map((s) => [s.stepKey, s]));

  const sessions = new Map<string, Kept[]>();
  for (const e of events) sessions.set(e.sessionId, [...(sessions.get(e.sessionId) ?? []), e]);

  const cohort = [...sessions.values()].flatMap((list) => {
    const starts = list.filter((e) => e.type === "session_start").map((e) => e.time);
    const entry = starts.length ? Math.min(...starts) : Math.min(...list.map((e) => e.time));
    if (entry < now - 30 * DAY) return [];
    const withDevice = list
      .filter((e) => e.device !== null)
      .sort((a, b) => a.time - b.time || byteOrder(a.id, b.id));
    const successes = list.filter((e) => e.type === "submit_success").map((e) => e.time);
    const viewed = new Set(
      list.flatMap((e) =>
        e.type === "step_view" && e.stepKey && stepByKey.has(e.stepKey) ? [e.stepKey] : [],
      ),
    );
    const viewedIndexes = [...viewed].map((k) => stepByKey.get(k)?.index as number);
    return [
      {
        entry,
        last: Math.max(...list.map((e) => e.time)),
        device: withDevice[0]?.device ?? null,
        success: successes.length ? Math.min(...successes) : null,
        viewed,
        furthest: viewedIndexes.length ? Math.max(...viewedIndexes) : null,
      },
    ];
  });

  const completed = cohort.filter((s) => s.success !== null);
  const durations = completed.map((s) => (s.success as number) - s.entry).sort((a, b) => a - b);
  const idle = (s: (typeof cohort)[number]) => now - s.last > 30 * MIN;
  const funnel = steps.map((step) => {
    const reached = cohort.filter((s) => s.viewed.has(step.stepKey)).length;
    const abandoned = cohort.filter((s) => s.success === null && idle(s) && s.furthest === step.index).length;
    return {
      stepId: step.id,
      stepKey: step.stepKey,
      stepName: step.name,
      index: step.index,
      reached,
      abandoned,
      abandonmentRate: ratio(abandoned, reached),
    };
  });
  let top: (typeof funnel)[number] | null = null;
  for (const s of funnel) {
    if (s.abandoned === 0) continue;
    const rate = s.abandonmentRate as number;
    const topRate = top?.abandonmentRate as number;
    if (!top || rate > topRate || (rate === topRate && s.abandoned > top.abandoned)) top = s;
  }

  const recent = events.filter((e) => e.time >= now - DAY);
  const weekAgo = now - 7 * DAY;
  const lastSeen = new Map<string, number>();
  for (const e of events)
    if (e.stepKey) lastSeen.set(e.stepKey, Math.max(lastSeen.get(e.stepKey) ?? -Infinity, e.time));
  const known = cohort.filter((s) => s.device !== null);

  return {
    healthMetrics: {
      hasSteps: steps.length > 0,
      hasRecentEvents: recent.length > 0,
      sessionCount: cohort.length,
      hasSnapshot: false,
    },
    behaviorMetrics: {
      completionRate: ratio(completed.length, cohort.length),
      mobileRate: ratio(known.filter((s) => s.device === "mobile").length, known.length),
      medianTimeToComplete: nearestSecond(percentileCont(durations, 0.5)),
      topDropoffStep: top
        ? {
            stepId: top.stepId,
            stepKey: top.stepKey,
            stepName: top.stepName,
            abandonmentRate: top.abandonmentRate,
          }
        : null,
    },
    eventCountsLast24h: Object.fromEntries(TYPES.map((t) => [t, recent.filter((e) => e.type === t).length])),
    unmappedStepIds: steps
      .filter((s) => !((lastSeen.get(s.stepKey) ?? -Infinity) >= weekAgo))
      .map((s) => s.id),
    lastArtifactCreated: null,
    funnel,
    timeToComplete: {
      p75: nearestSecond(percentileCont(durations, 0.75)),
      p90: nearestSecond(percentileCont(durations, 0.9)),
    },
    unknownStepKeys: [...lastSeen]
      .filter(([key, t]) => !stepByKey.has(key) && t >= weekAgo)
      .sort(([a], [b]) => byteOrder(a, b))
      .slice(0, 100)
      .map(([stepKey, t]) => ({ stepKey, lastSeenAt: new Date(t).toISOString() })),
    sessionsInProgress: cohort.filter((s) => s.success === null && !idle(s)).length,
  };
}
