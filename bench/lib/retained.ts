import { readFileSync } from "node:fs";
import { WebSocket } from "undici";
import { rssOf } from "./processes";

/** Node's flag for a server whose memory `retainedMemory` reads: the inspector's port, unopened. */
export const inspectorArgs = ["--inspect-port=127.0.0.1:0"];

export interface RetainedMemory {
  /** Resident set size after the collection, in bytes. */
  rss: number;
  /** V8's heap in use after the collection, in bytes: what the server still references. */
  heapUsed: number;
}

/**
 * What a server started with `inspectorArgs` still holds after a full garbage collection. RSS
 * alone measures when V8 last collected as much as what is kept: after the same load it has
 * ended 2 or 99 MiB apart, depending on whether V8's memory reducer had run yet. A collection
 * asked for through the inspector (opened with SIGUSR1, on a port Node prints to the log) makes
 * the figure the memory kept, so two identical passes compare like with like.
 */
export async function retainedMemory(pid: number, logFile: string): Promise<RetainedMemory> {
  process.kill(pid, "SIGUSR1");
  const url = await inspectorUrl(logFile);
  const inspector = await connect(url);
  try {
    await inspector.call("HeapProfiler.collectGarbage");
    const usage = (await inspector.call("Runtime.getHeapUsage")) as { usedSize: number };
    return { rss: rssOf(pid), heapUsed: usage.usedSize };
  } finally {
    inspector.close();
  }
}

/** The inspector's address, from the line Node writes to stderr when it opens it. */
async function inspectorUrl(logFile: string, timeoutMs = 10_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const lines = [...readFileSync(logFile, "utf8").matchAll(/Debugger listening on (ws:\/\/\S+)/g)];
    const last = lines.at(-1)?.[1];
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`The server's inspector did not open within ${timeoutMs} ms; see ${logFile}`);
}

/** A Chrome DevTools Protocol session: one call at a time, answered by id. */
async function connect(url: string) {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`Could not connect to ${url}`)), { once: true });
  });
  let lastId = 0;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (e: Error) => void }>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter || message.id === undefined) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  socket.addEventListener("close", () => {
    for (const waiter of pending.values()) waiter.reject(new Error("The inspector closed the connection"));
    pending.clear();
  });
  return {
    call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
      const id = ++lastId;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => socket.close(),
  };
}
