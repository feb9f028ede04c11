import {
  createDatabase,
  type Database,
  type DatabaseHandle,
  isConnectionError,
  queryRows,
} from "@odyssey/db";
import { connectionBreaker, createTestDatabase, type TestDatabase, testEngine } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "../src/errors";
import { runIdempotent } from "../src/idempotency/run";
import { createApiKey } from "../src/keys/operations";

// What an Idempotency-Key records when a request's claim or its answer goes astray: the key's
// answer is the one whose work committed, and a retry replays it. Both cases need a second
// connection working at once, or a connection lost on its way back: Postgres only.

describe.skipIf(testEngine() !== "postgres")("An Idempotency-Key", () => {
  let database: TestDatabase;
  let orgId: string;
  const identity = { id: "key", kind: "secret" as const, scopes: [] };

  beforeAll(async () => {
    database = await createTestDatabase();
    orgId = (await createApiKey(database.db, { orgSlug: "claims", kind: "secret" })).orgId;
  });
  afterAll(async () => {
    await database?.close();
  });

  const context = (db: Database, idempotencyKey: string) => ({ db, orgId, key: identity, idempotencyKey });

  /** The work a request does: a note in its own transaction, so a rollback shows. */
  const noting = (note: string) => async (tx: Database) => {
    await tx.execute(sql`insert into organizations (id, slug, name) values (${note}, ${note}, ${note})`);
    return note;
  };
  const noted = async (note: string) =>
    (
      await queryRows<{ n: number }>(
        database.db,
        sql`select count(*)::int as n from organizations where id = ${note}`,
      )
    )[0]?.n;

  it("keeps the answer of the request that took over a claim whose lease ran out, and rolls back the first", async () => {
    const key = "lease-ran-out";
    let taken: string | undefined;
    const first = runIdempotent(context(database.db, key), "op", { n: 1 }, async (tx) => {
      // While the first request works, its lease runs out and a retry takes the key over.
      await database.db.execute(
        sql`update idempotency_keys set lease_until = now() - interval '1 second' where key = ${key}`,
      );
      taken = await runIdempotent(context(database.db, key), "op", { n: 1 }, noting("second-run"));
      return noting("first-run")(tx);
    });
    await expect(first).rejects.toThrow(ConflictError);
    expect(taken).toBe("second-run");
    expect(await runIdempotent(context(database.db, key), "op", { n: 1 }, noting("third-run"))).toBe(
      "second-run",
    );
    expect({
      first: await noted("first-run"),
      second: await noted("second-run"),
      third: await noted("third-run"),
    }).toEqual({
      first: 0,
      second: 1,
      third: 0,
    });
  });

  describe("whose commit's answer was lost", () => {
    let proxy: Awaited<ReturnType<typeof connectionBreaker>>;
    let throughProxy: DatabaseHandle;

    beforeAll(async () => {
      proxy = await connectionBreaker(new URL(database.url ?? ""));
      throughProxy = createDatabase({ url: proxy.url, maxConnections: 2 });
    });
    afterAll(async () => {
      await throughProxy?.close();
      await proxy?.close();
    });

    it("replays the committed answer to a retry instead of doing the work again", async () => {
      const key = "commit-answer-lost";
      proxy.arm("lose-answer", "\0commit\0");
      const lost = await runIdempotent(
        context(throughProxy.db, key),
        "op",
        { n: 2 },
        noting("committed"),
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(proxy.armed).toBe(false);
      expect(isConnectionError(lost)).toBe(true);
      expect(await noted("committed")).toBe(1);
      const retried = await runIdempotent(
        context(throughProxy.db, key),
        "op",
        { n: 2 },
        noting("done-again"),
      );
      expect(retried).toBe("committed");
      expect(await noted("done-again")).toBe(0);
    });
  });
});
