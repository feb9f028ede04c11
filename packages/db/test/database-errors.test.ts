import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, isConnectionError, isDatabaseBusy, isLostSession, queryRows } from "../src/index";
import { createTestDatabase, type TestDatabase, testEngine, withTableLocked } from "../src/testing";

// A database that cannot be reached, or that answers but cannot complete a request now
// (read-only, a cancelled statement, a lock it gave up on, out of disk), is told apart from a
// failed query, so the request is answered 503 with Retry-After rather than 500: sent again
// later, it may succeed.

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await database?.close();
});

/** What `work` threw. */
async function thrownBy(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected the work to fail");
}

const inTransaction = (statements: ReturnType<typeof sql>[]) =>
  database.db.transaction(async (tx) => {
    for (const statement of statements) await queryRows(tx as unknown as Database, statement);
  });

describe("isDatabaseBusy", () => {
  it("is true of a write the database refuses because it takes no writes", async () => {
    const error = await thrownBy(() =>
      inTransaction([
        sql`set transaction read only`,
        sql`insert into organizations (id, slug, name) values ('org_busy', 'busy', 'Busy')`,
      ]),
    );
    expect(isDatabaseBusy(error)).toBe(true);
    expect(isConnectionError(error)).toBe(false);
  });

  it.runIf(testEngine() === "postgres")("is true of a statement cancelled by statement_timeout", async () => {
    const error = await thrownBy(() =>
      inTransaction([sql`set local statement_timeout = 20`, sql`select pg_sleep(2)`]),
    );
    expect(isDatabaseBusy(error)).toBe(true);
  });

  it.runIf(testEngine() === "postgres")("is true of a lock given up on by lock_timeout", async () => {
    await withTableLocked(database.url ?? "", "organizations", async () => {
      const error = await thrownBy(() =>
        inTransaction([sql`set local lock_timeout = 20`, sql`select count(*) from organizations`]),
      );
      expect(isDatabaseBusy(error)).toBe(true);
    });
  });

  it("is true of a deadlock, a serialization conflict and class 53, however deeply wrapped", () => {
    for (const code of ["40P01", "40001", "53100", "53200", "53400"])
      expect(isDatabaseBusy(new Error("Failed query", { cause: { code } })), code).toBe(true);
  });

  it("is false of a query that failed on its own terms, and of a lost connection", async () => {
    const duplicate = await thrownBy(() =>
      inTransaction([
        sql`insert into organizations (id, slug, name) values ('org_twice', 'twice', 'Twice')`,
        sql`insert into organizations (id, slug, name) values ('org_twice', 'twice', 'Twice')`,
      ]),
    );
    expect(isDatabaseBusy(duplicate)).toBe(false);
    expect(
      isDatabaseBusy(await thrownBy(() => queryRows(database.db, sql`select * from no_such_table`))),
    ).toBe(false);
    expect(isDatabaseBusy({ code: "ECONNREFUSED" })).toBe(false);
    expect(isDatabaseBusy({ code: "CONNECTION_CLOSED" })).toBe(false);
    expect(isDatabaseBusy(new Error("no code"))).toBe(false);
  });
});

describe("isConnectionError", () => {
  /** A socket error as Node raises it, wrapped as drizzle wraps a failed query's. */
  const socketError = (code: string, syscall: string) =>
    new Error("Failed query: select 1", {
      cause: Object.assign(new Error(`${syscall} ${code} db.internal`), { code, syscall }),
    });

  it("is true of the network failing to reach the database, a passing DNS failure included", () => {
    for (const [code, syscall] of [
      ["ECONNREFUSED", "connect"],
      ["ECONNRESET", "read"],
      ["ETIMEDOUT", "connect"],
      ["EHOSTUNREACH", "connect"],
      ["ENETUNREACH", "connect"],
      ["ENETDOWN", "connect"],
      ["EHOSTDOWN", "connect"],
      ["ECONNABORTED", "read"],
      ["EADDRNOTAVAIL", "connect"],
      ["EPIPE", "write"],
      ["ENOTFOUND", "getaddrinfo"],
      ["EAI_AGAIN", "getaddrinfo"],
    ] as const)
      expect(isConnectionError(socketError(code, syscall)), code).toBe(true);
  });

  it("is false of a query that failed on its own terms and of a busy database", () => {
    for (const code of ["23505", "42P01", "25006", "57014", "EACCES"])
      expect(isConnectionError(new Error("Failed query", { cause: { code } })), code).toBe(false);
  });
});

describe("isLostSession", () => {
  const failedQuery = (code: string) => new Error("Failed query: select 1", { cause: { code } });

  it("is true of a session that ended under the query: terminated, reset or closed", () => {
    for (const code of ["57P01", "57P02", "CONNECTION_CLOSED", "ECONNRESET", "EPIPE"])
      expect(isLostSession(failedQuery(code)), code).toBe(true);
  });

  it("is false of a database that cannot be reached, of the pool's own closing and of other failures", () => {
    for (const code of [
      "ECONNREFUSED",
      "CONNECT_TIMEOUT",
      "ENOTFOUND",
      "57P03",
      "3D000",
      "CONNECTION_ENDED",
      "CONNECTION_DESTROYED",
      "23505",
      "57014",
    ])
      expect(isLostSession(failedQuery(code)), code).toBe(false);
  });

  it.runIf(testEngine() === "postgres")("is true of a query whose session Postgres terminated", async () => {
    const error = await thrownBy(() =>
      inTransaction([sql`select pg_terminate_backend(pg_backend_pid())`, sql`select 1`]),
    );
    expect(isLostSession(error)).toBe(true);
  });
});
