import { createApiKey } from "@odyssey/api";
import { queryRows } from "@odyssey/db";
import { testEngine } from "@odyssey/db/testing";
import { sql, TransactionRollbackError } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postEvents, uuid } from "./support/events";
import { startTestServer, type TestServer } from "./support/server";

// Deleting a journey while batches for it are being stored: each batch either committed before
// the delete (and the delete removes what it stored), finds the journey gone (404, nothing
// stored), or came while the delete held the journey (503 with Retry-After, nothing stored).
// Neither side may fail with a deadlock. On PGlite (one connection) the requests run one after
// another, so only the answers and the emptiness afterwards are checked there.

const ROUNDS = 6;
const BATCHES = 20;
const EVENTS_PER_BATCH = 300;
const DELETE_AFTER_MS = 50;

/** No row of any kind left for a deleted journey. */
const nothingLeft = {
  events: 0,
  event_ids: 0,
  event_sessions: 0,
  event_hour_counts: 0,
  event_step_keys: 0,
  analytics_versions: 0,
};

let server: TestServer;
let key: string;
let publishable: string;
beforeAll(async () => {
  server = await startTestServer();
  key = await server.key("delete-race", ["journeys:write", "journeys:read", "events:write"]);
  publishable = (await createApiKey(server.database.db, { orgSlug: "delete-race", kind: "publishable" })).key;
});
afterAll(() => server.close());

const batch = (slug: string, round: number, n: number) => ({
  journey: slug,
  events: Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({
    id: uuid(),
    type: "step_view",
    sessionId: `r${round}-b${n}-${i}`,
    timestamp: new Date().toISOString(),
    stepKey: "s1",
  })),
});

/** Rows of any per-event or summary table still naming the journey. */
async function rowsLeft(journeyId: string) {
  const [row] = await queryRows<Record<string, number>>(
    server.database.db,
    sql`select
      (select count(*) from events where journey_id = ${journeyId})::int as events,
      (select count(*) from event_ids where journey_id = ${journeyId})::int as event_ids,
      (select count(*) from event_sessions where journey_id = ${journeyId})::int as event_sessions,
      (select count(*) from event_hour_counts where journey_id = ${journeyId})::int as event_hour_counts,
      (select count(*) from event_step_keys where journey_id = ${journeyId})::int as event_step_keys,
      (select count(*) from analytics_versions where journey_id = ${journeyId})::int as analytics_versions`,
  );
  return row;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The answer to a batch that came while the journey's deletion held it. */
const beingDeleted = (slug: string) => ({
  retryAfter: "1",
  body: { error: `Journey with slug "${slug}" is being deleted; retry shortly` },
});

/** A response's status, Retry-After and body. */
async function answerOf(pending: Promise<Response>) {
  const res = await pending;
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

describe(`deleting a journey while ${BATCHES} batches of ${EVENTS_PER_BATCH} events are stored for it`, () => {
  it(`answers every request 200, 404 or 503, ${ROUNDS} rounds, and leaves nothing of the journey`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const slug = `doomed-${round}`;
      const created = await server.call(key, "POST", "/api/journeys/create", {
        slug,
        displayName: slug,
        steps: [{ stepKey: "s1", index: 0 }],
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      // One batch first, so the summary rows exist and the process remembers the secret key's
      // lookup: the batches below update rows as well as insert them, and confirm the lookup.
      expect((await postEvents(server, batch(slug, round, -1), { key })).status).toBe(200);

      const batches = Array.from({ length: BATCHES }, (_, n) =>
        // Half with the secret key in the header, half with the publishable key in the body.
        n % 2 === 0
          ? postEvents(server, batch(slug, round, n), { key })
          : postEvents(server, { ...batch(slug, round, n), key: publishable }),
      );
      await sleep(DELETE_AFTER_MS);
      const deleted = await server.call(key, "DELETE", `/api/journeys/${slug}`);
      const deleteAnswer = { status: deleted.status, body: await deleted.json() };
      const answers = await Promise.all(
        batches.map(async (pending) => {
          const res = await pending;
          return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
        }),
      );

      expect(deleteAnswer, `round ${round}: the delete`).toEqual({
        status: 200,
        body: { id, slug, deleted: true },
      });
      for (const answer of answers) {
        if (answer.status === 404)
          expect(answer.body, `round ${round}`).toEqual({ error: `Journey with slug "${slug}" not found` });
        else if (answer.status === 503)
          expect(answer, `round ${round}`).toEqual({ ...beingDeleted(slug), status: 503 });
        else {
          expect(answer.status, `round ${round}: ${JSON.stringify(answer.body)}`).toBe(200);
          expect(answer.body).toMatchObject({ accepted: EVENTS_PER_BATCH, duplicates: 0, rejected: [] });
        }
      }
      expect(await rowsLeft(id), `round ${round}`).toEqual(nothingLeft);
      expect((await server.call(key, "GET", `/api/journeys/${slug}`)).status).toBe(404);
    }
  });
});

describe.runIf(testEngine() === "postgres")(
  "a batch that reaches a journey while its deletion is under way",
  () => {
    /**
     * Deletes the journey as `deleteJourney` does, in a transaction held open until `finish` is
     * called: with "commit" the deletion takes effect, with "rollback" it does not. Only the first
     * call counts, so a test can roll back in `finally` whatever happened before.
     */
    async function holdDeletion(journeyId: string) {
      let finish: (how: "commit" | "rollback") => void = () => {};
      let finished = false;
      let deleted: () => void = () => {};
      const isDeleted = new Promise<void>((resolve) => {
        deleted = resolve;
      });
      const done = server.database.db
        .transaction(async (tx) => {
          await tx.execute(sql`delete from journeys where id = ${journeyId}`);
          await tx.execute(sql`delete from events where journey_id = ${journeyId}`);
          await tx.execute(sql`delete from event_ids where journey_id = ${journeyId}`);
          deleted();
          const how = await new Promise<"commit" | "rollback">((resolve) => {
            finish = resolve;
          });
          if (how === "rollback") tx.rollback();
        })
        .catch((error: unknown) => {
          if (!(error instanceof TransactionRollbackError)) throw error;
        });
      await isDeleted;
      return {
        finish(how: "commit" | "rollback") {
          if (!finished) finish(how);
          finished = true;
          return done;
        },
      };
    }

    const oneBatch = (slug: string, sessionId: string) => ({
      journey: slug,
      events: [
        { id: uuid(), type: "step_view", sessionId, timestamp: new Date().toISOString(), stepKey: "s1" },
      ],
    });

    async function journeyWithOneStep(slug: string) {
      const created = await server.call(key, "POST", "/api/journeys/create", {
        slug,
        displayName: slug,
        steps: [{ stepKey: "s1", index: 0 }],
      });
      expect(created.status).toBe(201);
      return ((await created.json()) as { id: string }).id;
    }

    for (const remembered of [false, true])
      it(`answers 503 at once and stores nothing, then 404 once the deletion commits (${remembered ? "a remembered" : "a fresh"} lookup)`, async () => {
        const slug = `held-${remembered ? "remembered" : "fresh"}`;
        const id = await journeyWithOneStep(slug);
        // A first batch makes the process remember the key's lookup: the next statement confirms it.
        if (remembered) expect((await postEvents(server, oneBatch(slug, "first"), { key })).status).toBe(200);
        const deletion = await holdDeletion(id);
        try {
          const during = await answerOf(postEvents(server, oneBatch(slug, "during"), { key }));
          expect(during).toEqual({ ...beingDeleted(slug), status: 503 });
          await deletion.finish("commit");
        } finally {
          await deletion.finish("rollback");
        }
        const again = await answerOf(postEvents(server, oneBatch(slug, "again"), { key }));
        expect(again).toEqual({
          status: 404,
          retryAfter: null,
          body: { error: `Journey with slug "${slug}" not found` },
        });
        expect(await rowsLeft(id)).toEqual(nothingLeft);
      });

    it("stores the batch sent again once the deletion is rolled back", async () => {
      const slug = "held-rolled-back";
      const id = await journeyWithOneStep(slug);
      const deletion = await holdDeletion(id);
      const batch = oneBatch(slug, "after-rollback");
      try {
        const during = await answerOf(postEvents(server, batch, { key }));
        expect(during).toEqual({ ...beingDeleted(slug), status: 503 });
      } finally {
        await deletion.finish("rollback");
      }
      const res = await postEvents(server, batch, { key });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ accepted: 1, duplicates: 0 });
      expect(await rowsLeft(id)).toEqual({
        events: 1,
        event_ids: 1,
        event_sessions: 1,
        event_hour_counts: 1,
        event_step_keys: 1,
        analytics_versions: 1,
      });
    });

    it("keeps serving other journeys while many batches come for one whose deletion is under way", async () => {
      const doomed = "held-busy";
      const id = await journeyWithOneStep(doomed);
      const other = "held-neighbour";
      await journeyWithOneStep(other);
      const deletion = await holdDeletion(id);
      try {
        // Twice the pool's connections: batches waiting for the deletion would hold all of them.
        const toDoomed = Array.from({ length: 40 }, (_, n) =>
          answerOf(postEvents(server, oneBatch(doomed, `busy-${n}`), { key })),
        );
        // Stuck behind them, these would be answered 503 by the 10 s deadline.
        const toOther = await answerOf(postEvents(server, oneBatch(other, "neighbour"), { key }));
        const read = await server.call(key, "GET", `/api/journeys/${other}`);
        expect(toOther).toMatchObject({ status: 200, body: { accepted: 1 } });
        expect(read.status).toBe(200);
        for (const answer of await Promise.all(toDoomed))
          expect(answer).toEqual({ ...beingDeleted(doomed), status: 503 });
      } finally {
        await deletion.finish("rollback");
      }
    });
  },
);
