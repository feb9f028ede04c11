import { randomUUID } from "node:crypto";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Database } from "@odyssey/db";
import type { OrgContext } from "../context";
import { ConflictError, JourneyBeingDeletedError, NotFoundError } from "../errors";
import { ingestEvents } from "../events/ingest";
import type { Device, TypedEventInput } from "../events/schema";
import { createJourney, deleteJourney, findJourney } from "../journeys/operations";
import { ensureOrganization } from "../keys/operations";

// A sample journey with weeks of plausible sessions, sent through the same ingestion operation
// as real events, so a new user sees real figures at once. Operator-only, like key management.

export const DEMO_SLUG = "demo-small-business-grant";

const STEPS = [
  { stepKey: "eligibility", name: "Eligibility Check", stepType: "eligibility", fieldCount: 5, dropoff: 0.1 },
  {
    stepKey: "business-info",
    name: "Business Information",
    stepType: "input",
    fieldCount: 12,
    dropoff: 0.12,
  },
  { stepKey: "financials", name: "Financial Details", stepType: "input", fieldCount: 18, dropoff: 0.24 },
  { stepKey: "documents", name: "Supporting Documents", stepType: "upload", fieldCount: 4, dropoff: 0.18 },
  { stepKey: "review", name: "Review and Submit", stepType: "review", fieldCount: 1, dropoff: 0.06 },
];

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

/** A small seeded generator, so every demo database tells the same story. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p: number) => next() < p,
    between: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
  };
}

/** What one event of a session carries besides its id, session and time. */
type DemoEventPart<E = TypedEventInput> = E extends unknown
  ? Omit<E, "id" | "sessionId" | "timestamp">
  : never;

/** One visitor's session: steps until they leave or submit, with focus, errors and retries. */
function session(rng: ReturnType<typeof random>, startMs: number, n: number): TypedEventInput[] {
  const sessionId = `demo-${n}`;
  const roll = rng.next();
  const device: Device = roll < 0.46 ? "mobile" : roll < 0.9 ? "desktop" : "tablet";
  const struggle = device === "mobile" ? 1.35 : 1;
  let t = startMs;
  const events: TypedEventInput[] = [];
  const push = (event: DemoEventPart) => {
    events.push({ ...event, id: randomUUID(), sessionId, timestamp: new Date(t).toISOString() });
    t += rng.between(2, 40) * 1000;
  };
  push({ type: "session_start", device });
  for (const step of STEPS) {
    push({ type: "step_view", stepKey: step.stepKey });
    const fields = rng.between(1, Math.min(step.fieldCount, 6));
    for (let f = 0; f < fields; f++) {
      push({ type: "field_focus", stepKey: step.stepKey, field: `${step.stepKey}-field-${f + 1}` });
      if (rng.chance(0.08 * struggle))
        push({ type: "field_error", stepKey: step.stepKey, field: `${step.stepKey}-field-${f + 1}` });
    }
    // An old tracker build still names the financials step by its former key.
    if (step.stepKey === "financials" && rng.chance(0.03))
      push({ type: "field_focus", stepKey: "bank-details", field: "iban" });
    t += rng.between(20, 240) * 1000;
    if (rng.chance(step.dropoff * struggle)) return events;
  }
  push({ type: "submit_attempt" });
  if (rng.chance(0.12)) {
    push({ type: "submit_failure" });
    push({ type: "submit_attempt" });
  }
  push({ type: "submit_success" });
  return events;
}

/** Visitors arrive mostly in working hours, fewer at weekends. */
function arrivals(rng: ReturnType<typeof random>, from: number, to: number): number[] {
  const starts: number[] = [];
  for (let day = Math.floor(from / DAY) * DAY; day < to; day += DAY) {
    const weekday = new Date(day).getUTCDay();
    const count = weekday === 0 || weekday === 6 ? rng.between(15, 30) : rng.between(45, 80);
    for (let i = 0; i < count; i++) {
      const hour = rng.chance(0.8) ? rng.between(8, 20) : rng.between(0, 23);
      const at = day + hour * 60 * MIN + rng.between(0, 59) * MIN + rng.between(0, 59) * 1000;
      if (at >= from && at < to) starts.push(at);
    }
  }
  return starts.sort((a, b) => a - b);
}

/** The seed was stopped (its signal) and the partly seeded journey deleted. */
export class SeedInterruptedError extends Error {
  constructor() {
    super("Seeding was interrupted; the partly seeded demo journey was deleted");
  }
}

const unlessNotFound = (error: unknown) => {
  if (!(error instanceof NotFoundError)) throw error;
};

/** The demo journey was replaced (or deleted) by someone else while this seed made it. */
const anotherSeed = (orgSlug: string) =>
  new ConflictError(
    `The demo journey of organization "${orgSlug}" was replaced or deleted while this seed was ` +
      "making it (by another seed --demo --replace, or a DELETE): this seed stopped and left the journey as that change made it",
  );

export interface DemoSeedResult {
  orgSlug: string;
  /** The organization was made by this seed, so it has no key yet. */
  orgCreated: boolean;
  journey: string;
  /** An existing demo journey was deleted first (`replace`). */
  replaced: boolean;
  sessions: number;
  events: number;
}

export async function seedDemoJourney(
  db: Database,
  options: {
    orgSlug: string;
    days?: number;
    now?: Date;
    /** Delete an existing demo journey, with its events, and seed it afresh. */
    replace?: boolean;
    progress?: (done: number, total: number, label: string) => void;
    /** Stops the seed between two batches; the partly seeded journey is then deleted. */
    signal?: AbortSignal;
  },
): Promise<DemoSeedResult> {
  const org = await ensureOrganization(db, options.orgSlug);
  const ctx: OrgContext = {
    db,
    orgId: org.id,
    key: { id: "demo-seed", kind: "secret", scopes: ["events:write"] },
  };
  const exists = await findJourney({ ctx, input: { slug: DEMO_SLUG } }).then(
    () => true,
    () => false,
  );
  if (exists && !options.replace)
    throw new ConflictError(
      `Journey with slug "${DEMO_SLUG}" already exists in organization "${org.slug}"; ` +
        "to seed it again, replace it (odyssey seed --demo --replace deletes it and its events first)",
    );
  // Another seed may have deleted it first: replaced either way.
  if (exists) await deleteJourney({ ctx, input: { slug: DEMO_SLUG } }).catch(unlessNotFound);
  const created = await createJourney({
    ctx,
    input: {
      slug: DEMO_SLUG,
      displayName: "Small Business Grant Application (demo)",
      sourceSystem: "custom",
      environment: "staging",
      allowedOrigins: [],
      steps: STEPS.map(({ dropoff: _dropoff, ...step }, index) => ({ ...step, index })),
    },
  }).catch((error: unknown) => {
    if (error instanceof ConflictError) throw anotherSeed(org.slug);
    throw error;
  });
  // Batches go to this journey by its id, not its slug: if another seed replaces it meanwhile,
  // they find it gone and stop, rather than adding a second history to the other seed's journey.
  const ownJourney = {
    ...ctx,
    journeyLookup: {
      slug: DEMO_SLUG,
      journey: {
        id: created.id,
        allowedOrigins: [],
        stepIndexByKey: new Map(created.steps.map((step) => [step.stepKey, step.index])),
      },
    },
  };

  const now = (options.now ?? new Date()).getTime();
  const rng = random(20261126);
  const starts = arrivals(rng, now - (options.days ?? 21) * DAY, now - 2 * MIN);
  // Sessions are sent in arrival order, in batches of at most 500 events, each received just
  // after its newest event, the way forms send them.
  const events = starts
    .flatMap((start, n) => session(rng, start, n))
    .filter((e) => Date.parse(e.timestamp) <= now);
  events.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  for (let i = 0; i < events.length; i += 500) {
    if (options.signal?.aborted) {
      // Half a history would show figures that tell nothing: take it away, so a new seed can run.
      await deleteJourney({ ctx, input: { slug: DEMO_SLUG, id: created.id } }).catch(unlessNotFound);
      throw new SeedInterruptedError();
    }
    const batch = events.slice(i, i + 500);
    const newest = Date.parse(batch.at(-1)?.timestamp ?? new Date(now).toISOString());
    await ingestEvents({
      ctx: { ...ownJourney, receivedAt: new Date(Math.min(now, newest + 1000)) },
      input: { journey: DEMO_SLUG, events: batch },
    }).catch((error: unknown) => {
      if (error instanceof NotFoundError || error instanceof JourneyBeingDeletedError)
        throw anotherSeed(org.slug);
      throw error;
    });
    options.progress?.(Math.min(i + 500, events.length), events.length, "Sending demo events");
    // Run inside the server (the CLI's admin socket), the seed must let it answer requests
    // between batches: an embedded database's queries resolve without a turn of the event loop.
    await yieldToEventLoop();
  }
  return {
    orgSlug: org.slug,
    orgCreated: org.created,
    journey: DEMO_SLUG,
    replaced: exists,
    sessions: starts.length,
    events: events.length,
  };
}
