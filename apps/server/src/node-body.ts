import type { IncomingMessage } from "node:http";
import type { MiddlewareHandler } from "hono";

/**
 * Reads a request body straight from Node's stream into Hono's body cache, where `c.req.json()`
 * and `c.req.text()` find it. Left alone, the Node adapter wraps the stream in a web
 * ReadableStream inside a full Request and reads that: several times the CPU for the same bytes.
 * Only bodies with a Content-Length (already checked against the limit); chunked ones take the
 * adapter's path, which the body limit reads itself.
 */
export const readBodyFromNode: MiddlewareHandler = async (c, next) => {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const sized =
    c.req.header("content-length") !== undefined && c.req.header("transfer-encoding") === undefined;
  if (incoming && sized && Object.keys(c.req.bodyCache).length === 0) {
    const bytes = readBytes(incoming);
    bytes.catch(() => {}); // a handler that never asks for the body must not see a stray rejection
    // The bytes, not text: decoding here would hide invalid UTF-8 from the guard that refuses it.
    // Hono keeps promises in its body cache, whatever its type says.
    (c.req.bodyCache as Record<string, unknown>).arrayBuffer = bytes;
  }
  await next();
};

function readBytes(incoming: IncomingMessage): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.once("end", () => {
      const all = Buffer.concat(chunks);
      resolve(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer);
    });
    incoming.once("error", reject);
  });
}
