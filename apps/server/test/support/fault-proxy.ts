import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy between the app and Postgres that a test can break, so an outage is injected
 * without touching the shared database server.
 * - `reset()`: every open connection is dropped and new ones are closed at once (a crash or
 *   restart of the database).
 * - `stall()`: bytes stop flowing both ways and new connections get no answer (a network
 *   partition: nothing fails, everything waits).
 * - `restore()`: back to normal; stalled connections carry on where they stopped.
 */
export interface FaultProxy {
  port: number;
  /** `databaseUrl` with its host and port pointing at the proxy. */
  proxied(databaseUrl: string): string;
  reset(): void;
  stall(): void;
  restore(): void;
  /** Connections dropped by `reset` so far. */
  readonly droppedConnections: number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: "up" | "reset" | "stall" = "up";
  let dropped = 0;
  const pairs = new Set<[Socket, Socket]>();

  const join = ([client, upstream]: [Socket, Socket]) => {
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const server: Server = createServer((client) => {
    if (mode === "reset") {
      dropped++;
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    // A stalled proxy holds new connections unanswered until restore() joins them.
    if (mode === "up") join(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    proxied(databaseUrl) {
      const url = new URL(databaseUrl);
      url.hostname = "127.0.0.1";
      url.port = String(port);
      return url.toString();
    },
    reset() {
      mode = "reset";
      for (const [client, upstream] of pairs) {
        dropped++;
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    stall() {
      mode = "stall";
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    restore() {
      const wasStalled = mode === "stall";
      mode = "up";
      if (wasStalled) for (const pair of pairs) join(pair);
    },
    get droppedConnections() {
      return dropped;
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
