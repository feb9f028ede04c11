import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { type SQLWrapper, sql } from "drizzle-orm";
import postgres from "postgres";
import { createDatabase, type Database, type DatabaseHandle, queryRows } from "./database";

// Test databases: each test file gets a fresh one, on the engine the test run names.

export type TestEngine = "postgres" | "pglite";

export function testEngine(): TestEngine {
  return process.env.ODYSSEY_TEST_DB === "postgres" ? "postgres" : "pglite";
}

/** A server URL whose database may be used to create and drop test databases. */
export function testServerUrl(): string {
  return process.env.ODYSSEY_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

export interface TestDatabase extends DatabaseHandle {
  /** The database's own URL (postgres only), for tests that start a second process on it. */
  url: string | undefined;
}

/** A new, empty database on the test server, named `<prefix>_<random>`; drop() removes it. */
export async function createServerDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = postgres(testServerUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(testServerUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = postgres(testServerUrl(), { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** A migrated, empty database; close() drops it. */
export async function createTestDatabase(
  options: { engine?: TestEngine; maxConnections?: number } = {},
): Promise<TestDatabase> {
  const engine = options.engine ?? testEngine();
  if (engine === "pglite") {
    const handle = createDatabase();
    await handle.migrate();
    return { ...handle, url: undefined };
  }
  const server = await createServerDatabase("odyssey_test");
  const handle = createDatabase({ url: server.url, maxConnections: options.maxConnections ?? 20 });
  await handle.migrate();
  return {
    ...handle,
    url: server.url,
    async close() {
      await handle.close();
      await server.drop();
    },
  };
}

// A proxy for tests of lost connections: Postgres only.

/**
 * How `connectionBreaker` breaks a connection: a TCP reset (the bytes are not delivered), the
 * server ending the session (57P01), or the answer lost (the bytes reach the server, which runs
 * them, and the client is reset: a COMMIT whose answer never came back).
 */
export type ConnectionFault = "reset" | "terminate" | "lose-answer";

/** An ErrorResponse as a server sends it when an administrator ends the session (pg_ctl stop -m fast). */
function adminShutdownMessage(): Buffer {
  const fields = [
    ["S", "FATAL"],
    ["V", "FATAL"],
    ["C", "57P01"],
    ["M", "terminating connection due to administrator command"],
  ];
  const body = Buffer.concat([
    ...fields.map(([tag, text]) => Buffer.from(`${tag}${text}\0`)),
    Buffer.from([0]),
  ]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from("E"), length, body]);
}

/** A TCP proxy to the test server that breaks the connection that next sends a given text. */
export async function connectionBreaker(target: URL) {
  let armed: { fault: ConnectionFault; text: string } | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    upstream.pipe(client);
    let broken = false;
    client.on("data", (chunk) => {
      if (broken) return;
      if (armed && chunk.includes(armed.text)) {
        const { fault } = armed;
        armed = undefined;
        broken = true;
        if (fault === "terminate") {
          upstream.destroy();
          client.end(adminShutdownMessage());
        } else if (fault === "lose-answer") {
          upstream.unpipe(client);
          upstream.end(chunk);
          client.resetAndDestroy();
        } else {
          // A moment later, as a lost network is noticed: the client may write more meanwhile.
          setTimeout(() => {
            upstream.destroy();
            client.resetAndDestroy();
          }, 300);
        }
        return;
      }
      upstream.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on("error", () => {});
      socket.on("close", () => (socket === client ? upstream : client).destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxied = new URL(target);
  proxied.hostname = "127.0.0.1";
  proxied.port = String((server.address() as { port: number }).port);
  return {
    url: proxied.toString(),
    arm(fault: ConnectionFault, text: string) {
      armed = { fault, text };
    },
    get armed() {
      return armed !== undefined;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Runs `work` while a session of its own on the database at `url` holds an exclusive lock on
 * `table`, which every other query of the table waits for.
 */
export async function withTableLocked(url: string, table: string, work: () => Promise<void>): Promise<void> {
  const holder = postgres(url, { max: 1, onnotice: () => {} });
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked = () => {};
  const holding = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const transaction = holder.begin(async (tx) => {
    await tx.unsafe(`lock table ${table} in access exclusive mode`);
    locked();
    await released;
  });
  try {
    await Promise.race([holding, transaction]);
    await work();
  } finally {
    release();
    await transaction.catch(() => {});
    await holder.end();
  }
}

/** The plan the database makes for `query`, as the text of `EXPLAIN (COSTS OFF)`, on either engine. */
export async function planOf(db: Database, query: SQLWrapper): Promise<string> {
  const rows = await queryRows<Record<string, unknown>>(db, sql`explain (costs off) ${query}`);
  return rows.map((row) => Object.values(row).join("")).join("\n");
}
