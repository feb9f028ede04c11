import { chmodSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { DomainError, SeedInterruptedError } from "@odyssey/api";
import type { DatabaseHandle } from "@odyssey/db";
import { Command, runCommand } from "./commands";
import { ADMIN_SOCKET } from "./env";
import type { Logger } from "./logger";

// PGlite is one process: while the server holds the embedded database, the CLI sends its
// command over a unix socket in the data folder (owner-only) and the server runs it.
// One JSON line in; JSON lines out: progress lines, then one result or error line.

export const adminSocketPath = (dataDir: string) => join(dataDir, ADMIN_SOCKET);

type Reply =
  | { type: "progress"; done: number; total: number; label: string }
  | { type: "result"; result: unknown }
  | { type: "error"; message: string };

/** The socket, serving; `close` stops taking commands and stops the running ones (see below). */
export interface AdminSocket {
  close(): Promise<void>;
}

export function serveAdminSocket(
  dataDir: string,
  database: DatabaseHandle,
  logger: Logger,
): Promise<AdminSocket> {
  const path = adminSocketPath(dataDir);
  rmSync(path, { force: true });
  const shutdown = new AbortController();
  const running = new Set<Promise<void>>();
  const server = createServer((socket) => {
    let buffer = "";
    const send = (reply: Reply) => socket.write(`${JSON.stringify(reply)}\n`);
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      const end = buffer.indexOf("\n");
      if (end < 0) return;
      socket.pause();
      const run = (async () => {
        try {
          const command = Command.parse(JSON.parse(buffer.slice(0, end)));
          logger.info({ command: command.name }, "admin command");
          const progress = (done: number, total: number, label: string) =>
            send({ type: "progress", done, total, label });
          const result = await runCommand(database, command, progress, shutdown.signal);
          send({ type: "result", result });
        } catch (error) {
          const expected = error instanceof DomainError || error instanceof SeedInterruptedError;
          if (!expected) logger.error({ err: error }, "admin command failed");
          send({ type: "error", message: error instanceof Error ? error.message : String(error) });
        }
        socket.end();
      })();
      running.add(run);
      void run.finally(() => running.delete(run));
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve({
        // Before the database closes: a seed stops between batches and deletes what it stored,
        // as it does when the CLI running it is stopped, rather than leave half a history.
        close: async () => {
          server.close();
          shutdown.abort();
          await Promise.allSettled(running);
        },
      });
    });
  });
}

export function sendAdminCommand(
  dataDir: string,
  command: Command,
  onProgress: (done: number, total: number, label: string) => void,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(adminSocketPath(dataDir));
    let buffer = "";
    let settled = false;
    socket.on("connect", () => socket.write(`${JSON.stringify(command)}\n`));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let end = buffer.indexOf("\n");
      while (end >= 0) {
        const reply = JSON.parse(buffer.slice(0, end)) as Reply;
        buffer = buffer.slice(end + 1);
        if (reply.type === "progress") onProgress(reply.done, reply.total, reply.label);
        else {
          settled = true;
          if (reply.type === "result") resolve(reply.result);
          else reject(new Error(reply.message));
        }
        end = buffer.indexOf("\n");
      }
    });
    socket.on("error", reject);
    socket.on("close", () => {
      if (!settled) reject(new Error("The server closed the connection before answering"));
    });
  });
}
