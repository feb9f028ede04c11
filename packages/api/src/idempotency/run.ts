import { createHash } from "node:crypto";
import { type Database, idempotencyKeys, isConnectionError } from "@odyssey/db";
import { and, eq, lt, or, sql } from "drizzle-orm";
import superjson from "superjson";
import type { OrgContext } from "../context";
import {
  ConflictError,
  DomainError,
  type DomainErrorKind,
  UnprocessableError,
  ValidationError,
} from "../errors";

// `Idempotency-Key`, with Stripe's semantics: the first request with a key claims it; a retry
// with the same key and request replays the first answer (success or error); the same key
// with another request is refused (422); a retry while the first is still running is refused
// (409). The claim is a row, so it holds across server processes.

/** How long a claim holds without an answer: past it the request is taken to have died with its process. */
const LEASE_SECONDS = 30;
/** Keys are remembered this long; after it, a key may be used afresh. */
const RETENTION_HOURS = 24;

const keyPattern = /^[\x21-\x7e]{1,255}$/;

type StoredAnswer =
  | { ok: true; result: ReturnType<typeof superjson.serialize> }
  | { ok: false; kind: DomainErrorKind; message: string };

/** Canonical JSON: object keys sorted, so equal inputs have equal fingerprints whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

const inProgress = () =>
  new ConflictError("A request with this Idempotency-Key is still in progress; retry later");
const otherRequest = () =>
  new UnprocessableError("This Idempotency-Key was already used with a different request; use a new key");

/**
 * Runs `work` at most once per idempotency key of the caller's organization, storing its answer
 * in the same transaction as the work itself, so no success can be done without being recorded.
 * Without a key, `work` simply runs.
 */
export async function runIdempotent<T>(
  ctx: OrgContext & { idempotencyKey?: string | undefined },
  operation: string,
  input: unknown,
  work: (db: Database) => Promise<T>,
): Promise<T> {
  const key = ctx.idempotencyKey;
  if (key === undefined) return work(ctx.db);
  if (!keyPattern.test(key))
    throw new ValidationError("Idempotency-Key must be 1 to 255 printable ASCII characters without spaces");
  const fingerprint = createHash("sha256")
    .update(operation)
    .update("\n")
    .update(canonical(input))
    .digest("hex");
  const where = and(eq(idempotencyKeys.orgId, ctx.orgId), eq(idempotencyKeys.key, key));

  const claimedAt = await claim(ctx.db, ctx.orgId, key, fingerprint);
  if (!claimedAt) {
    const [row] = await ctx.db
      .select({
        fingerprint: idempotencyKeys.fingerprint,
        state: idempotencyKeys.state,
        response: idempotencyKeys.response,
      })
      .from(idempotencyKeys)
      .where(where);
    if (!row) throw inProgress(); // Released between our claim and this read: the caller may retry.
    if (row.fingerprint !== fingerprint) throw otherRequest();
    if (row.state === "in_flight") throw inProgress();
    return replay<T>(row.response as StoredAnswer);
  }

  // Every write of the outcome is to this claim only. A claim whose lease ran out may have been
  // taken over by a retry while this request still worked (a stall outlasting the lease); the
  // claim's time tells them apart, as a takeover sets a new one.
  const ours = and(where, eq(idempotencyKeys.state, "in_flight"), eq(idempotencyKeys.createdAt, claimedAt));
  try {
    return await ctx.db.transaction(async (tx) => {
      const result = await work(tx as unknown as Database);
      const answer: StoredAnswer = { ok: true, result: superjson.serialize(result) };
      const recorded = await tx
        .update(idempotencyKeys)
        .set({ state: "done", response: answer })
        .where(ours)
        .returning({ key: idempotencyKeys.key });
      // Taken over: the other request does the work, and this one's rolls back.
      if (recorded.length === 0) throw inProgress();
      return result;
    });
  } catch (error) {
    if (error instanceof DomainError && error.kind !== "Unavailable" && !isConnectionError(error)) {
      // A refusal is an answer too: the same request would be refused again.
      const answer: StoredAnswer = { ok: false, kind: error.kind, message: error.message };
      await ctx.db.update(idempotencyKeys).set({ state: "done", response: answer }).where(ours);
    } else {
      // Free the key so a retry does the work, if it is still this request's claim in flight:
      // the work rolled back. A connection lost with the commit's answer may hide a commit,
      // which marked the key done: it stays, and a retry replays the answer.
      await ctx.db
        .delete(idempotencyKeys)
        .where(ours)
        .catch(() => {}); // If the database is gone, the lease runs out instead.
    }
    throw error;
  }
}

/**
 * Claims the key: a new row, or an expired one (a claim whose process died, or an old key).
 * Answers the claim's time, or undefined when the key is another request's.
 */
async function claim(
  db: Database,
  orgId: string,
  key: string,
  fingerprint: string,
): Promise<Date | undefined> {
  const leaseUntil = sql`now() + make_interval(secs => ${LEASE_SECONDS})`;
  const inserted = await db
    .insert(idempotencyKeys)
    .values({ orgId, key, fingerprint, state: "in_flight", leaseUntil, response: null })
    .onConflictDoNothing()
    .returning({ claimedAt: idempotencyKeys.createdAt });
  if (inserted[0]) {
    await forgetExpiredKeys(db, orgId);
    return inserted[0].claimedAt;
  }
  const taken = await db
    .update(idempotencyKeys)
    .set({ fingerprint, state: "in_flight", leaseUntil, response: null, createdAt: sql`now()` })
    .where(
      and(
        eq(idempotencyKeys.orgId, orgId),
        eq(idempotencyKeys.key, key),
        or(
          and(eq(idempotencyKeys.state, "in_flight"), lt(idempotencyKeys.leaseUntil, sql`now()`)),
          lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${RETENTION_HOURS})`),
        ),
      ),
    )
    .returning({ claimedAt: idempotencyKeys.createdAt });
  return taken[0]?.claimedAt;
}

/** Keys forgotten per new key, at most: more than come in, so a day of keys is what stays. */
const FORGET_PER_CLAIM = 100;

/**
 * Deletes some of the organization's keys past their retention, which a new claim would
 * overwrite anyway: without it, every key and its stored answer would stay for good. Rows another
 * request is deleting are skipped, not waited for. A failure here fails no request.
 */
async function forgetExpiredKeys(db: Database, orgId: string): Promise<void> {
  await db
    .execute(sql`
      delete from idempotency_keys
      where org_id = ${orgId} and key in (
        select key from idempotency_keys
        where org_id = ${orgId} and created_at < now() - make_interval(hours => ${RETENTION_HOURS})
        order by created_at
        limit ${FORGET_PER_CLAIM}
        for update skip locked)`)
    .catch(() => {});
}

function replay<T>(answer: StoredAnswer): T {
  if (answer.ok) return superjson.deserialize<T>(answer.result);
  throw new DomainError(answer.kind, answer.message);
}
