import { createServer, type Socket } from "node:net";
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createDatabase,
  type Database,
  type DatabaseHandle,
  isConnectionError,
  queryRows,
} from "../src/index";
import { connectionBreaker, createServerDatabase, testEngine } from "../src/testing";

// What a restart of Postgres does to the pool's connections, imitated by a proxy that breaks one
// exchange. postgres.js asks every new connection for the server's array types before it runs
// the query that opened it; a restart lands there whenever the pool reconnects while the server
// is still going down. Losing a connection must fail at most the query it was running, as a lost
// connection (the caller answers 503 and retries): never end the process, never leave arrays
// unparsed, never fail a later query on a new connection with the old connection's error.

const arrayTypesQuestion = "pg_catalog.pg_type";

describe.skipIf(testEngine() !== "postgres")("A lost connection", () => {
  let scratch: Awaited<ReturnType<typeof createServerDatabase>>;
  let proxy: Awaited<ReturnType<typeof connectionBreaker>>;
  let database: DatabaseHandle | undefined;
  const unhandled: unknown[] = [];
  const collect = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    scratch = await createServerDatabase("odyssey_conn");
    proxy = await connectionBreaker(new URL(scratch.url));
    process.on("unhandledRejection", collect);
  }, 30_000);

  afterEach(async () => {
    await database?.close();
    database = undefined;
    unhandled.length = 0;
  });

  afterAll(async () => {
    process.off("unhandledRejection", collect);
    await proxy?.close();
    await scratch?.drop();
  }, 30_000);

  // One connection, so every query meets what happened to the one before.
  const openPool = () => {
    database = createDatabase({ url: proxy.url, maxConnections: 1 });
    return database;
  };
  const settled = (query: Promise<unknown>) =>
    query.then(
      (rows) => ({ rows }),
      (error: unknown) => ({ error }),
    );
  const selectOne = (pool: DatabaseHandle) => settled(queryRows(pool.db, sql`select 1 as one`));
  const selectArray = (pool: DatabaseHandle) => queryRows(pool.db, sql`select array['a', 'b'] as tags`);
  /** What `query` settled with, or "no answer" if it did not within 5 s (a wedged connection). */
  const within5s = (query: Promise<unknown>) =>
    Promise.race([
      settled(query),
      new Promise((resolve) => setTimeout(() => resolve("no answer"), 5000).unref()),
    ]);
  const lostConnection = (outcome: unknown) =>
    typeof outcome === "object" && outcome !== null && "error" in outcome && isConnectionError(outcome.error);
  // A rejection nobody handled is reported once the microtasks and timers of its turn have run.
  const reported = () => new Promise((resolve) => setTimeout(resolve, 50));

  it("fails the query that opened it when it is reset while asking for the array types", async () => {
    const pool = openPool();
    proxy.arm("reset", arrayTypesQuestion);
    const first = await selectOne(pool);
    expect(proxy.armed).toBe(false);
    expect("error" in first && isConnectionError(first.error)).toBe(true);
    expect(await selectArray(pool)).toEqual([{ tags: ["a", "b"] }]);
    await reported();
    expect(unhandled).toEqual([]);
  });

  it("runs the query that opened it on a new connection when the server ends the session while it asks for the array types", async () => {
    const pool = openPool();
    proxy.arm("terminate", arrayTypesQuestion);
    expect(await selectOne(pool)).toEqual({ rows: [{ one: 1 }] });
    expect(proxy.armed).toBe(false);
    expect(await selectArray(pool)).toEqual([{ tags: ["a", "b"] }]);
    await reported();
    expect(unhandled).toEqual([]);
  });

  it("fails only the query it was running when the server ends the session, not the next one", async () => {
    const pool = openPool();
    expect(await selectOne(pool)).toEqual({ rows: [{ one: 1 }] });
    proxy.arm("terminate", "select 2 as two");
    const killed = await settled(queryRows(pool.db, sql`select 2 as two`));
    expect(proxy.armed).toBe(false);
    expect("error" in killed && isConnectionError(killed.error)).toBe(true);
    expect(await selectOne(pool)).toEqual({ rows: [{ one: 1 }] });
    expect(await selectArray(pool)).toEqual([{ tags: ["a", "b"] }]);
    await reported();
    expect(unhandled).toEqual([]);
  });

  // Drizzle runs a nested transaction as a savepoint inside the outer one.
  const inTransaction = (pool: DatabaseHandle, text: string) =>
    pool.db.transaction((tx) => queryRows(tx as unknown as Database, sql`select ${text}::text as step`));
  const inSavepoint = (pool: DatabaseHandle, text: string) =>
    pool.db.transaction((tx) =>
      tx.transaction((inner) => queryRows(inner as unknown as Database, sql`select ${text}::text as step`)),
    );

  it.each([
    ["reset", "a transaction", "reset", inTransaction],
    ["ended by the server", "a transaction", "terminate", inTransaction],
    ["reset", "a savepoint", "reset", inSavepoint],
    ["ended by the server", "a savepoint", "terminate", inSavepoint],
  ] as const)(
    "fails only the transaction whose connection is %s inside %s, and answers the queries after it",
    async (_lost, _inside, fault, run) => {
      const pool = openPool();
      // A statement the connection has prepared already, as on any long-lived one.
      const text = `broken in ${fault}`;
      await run(pool, text);
      await run(pool, text);
      proxy.arm(fault, text); // the parameter: a prepared statement sends no text
      const failed = await run(pool, text).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(proxy.armed).toBe(false);
      expect(isConnectionError(failed)).toBe(true);
      // The rollback, written after the connection was lost, never reached the server: it must
      // fail on its own, neither failing the query that opens the next connection nor leaving that
      // connection waiting for its answer (it answered one query, then none).
      for (const n of [1, 2, 3])
        expect(await within5s(queryRows(pool.db, sql`select ${n}::int as n`))).toEqual({ rows: [{ n }] });
      await reported();
      expect(unhandled).toEqual([]);
    },
  );

  it("fails the query that opened a connection after a few spaced tries when every new connection is closed at once", async () => {
    // What a port forward or a proxy whose database is down does: it accepts, then closes.
    const sockets = new Set<Socket>();
    const closer = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.end();
    });
    await new Promise<void>((resolve) => closer.listen(0, "127.0.0.1", resolve));
    const url = new URL(proxy.url);
    url.port = String((closer.address() as { port: number }).port);
    try {
      database = createDatabase({ url: url.toString(), maxConnections: 1 });
      expect(lostConnection(await within5s(queryRows(database.db, sql`select 1 as one`)))).toBe(true);
      const afterFirst = sockets.size;
      expect(afterFirst).toBeLessThanOrEqual(3);
      // The next query tries again, after the backoff: no connection is opened meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sockets.size).toBe(afterFirst);
      expect(lostConnection(await within5s(queryRows(database.db, sql`select 1 as one`)))).toBe(true);
      expect(sockets.size).toBeLessThanOrEqual(2 * afterFirst);
    } finally {
      await database?.close();
      database = undefined;
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => closer.close(resolve));
    }
    await reported();
    expect(unhandled).toEqual([]);
  });
});
