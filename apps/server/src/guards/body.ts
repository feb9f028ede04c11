import type { IncomingMessage } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { nodeRequest, requestHeader } from "../request-essentials";
import type { RestEnv } from "../rest/context";
import { refuse } from "./refuse";

/** The most a request's body may hold, and the answer to one that holds more. */
export interface BodyLimit {
  maxBytes: number;
  refuse(c: Context): Response;
}

/** Whether the request's headers announce a body with content: chunked, or a length other than 0. */
export function declaresBody(c: Context): boolean {
  if (requestHeader(c, "transfer-encoding") !== undefined) return true;
  const length = requestHeader(c, "content-length");
  return length !== undefined && length !== "0";
}

/**
 * Bodies are taken as sent, never decompressed: a compressed one would be measured and parsed as
 * its compressed bytes, so a body with any `Content-Encoding` but `identity` is refused (415) up
 * front. A request without a body has nothing encoded, so the header alone refuses nothing.
 */
export const uncompressedBodies: MiddlewareHandler<RestEnv> = (c, next) => {
  const encoding = requestHeader(c, "content-encoding")?.trim().toLowerCase();
  if (encoding === undefined || encoding === "" || encoding === "identity" || !declaresBody(c)) return next();
  return Promise.resolve(
    refuse(c, 415, `Content-Encoding ${encoding} is not accepted: send the body uncompressed`),
  );
};

/**
 * Applies `limit` to the request's body: a declared length past it is refused before anything is
 * read; otherwise the limit (the smallest of those applied) goes to `readBody`, which stops
 * reading once a body without a declared length passes it.
 */
export function limitBody(limit: BodyLimit): MiddlewareHandler<RestEnv> {
  return (c, next) => {
    const declared = requestHeader(c, "content-length");
    const chunked = requestHeader(c, "transfer-encoding") !== undefined;
    if (declared !== undefined && !chunked && Number.parseInt(declared, 10) > limit.maxBytes)
      return Promise.resolve(limit.refuse(c));
    // Recorded for every request: one built by `app.request()` may carry a body it does not announce.
    const current = c.get("bodyLimit");
    if (!current || limit.maxBytes < current.maxBytes) c.set("bodyLimit", limit);
    return next();
  };
}

/**
 * The request's body, read once, or the answer that refuses it (past the limit, or cut off).
 * Under Node the bytes come straight from the IncomingMessage, without the web Request and
 * stream the adapter would otherwise build for it, and are left on it as `rawBody`, which the
 * adapter uses if a web Request is asked for later. Elsewhere (`app.request`) they come from the
 * web Request.
 */
export async function readBody(c: Context<RestEnv>): Promise<Uint8Array | Response> {
  const limit = c.get("bodyLimit");
  if (!limit) throw new Error("readBody: no body limit applies to this route");
  const incoming = nodeRequest(c);
  const bytes = incoming
    ? await readIncoming(incoming, limit.maxBytes)
    : await readWeb(c.req.raw, limit.maxBytes);
  if (bytes === "too large") return limit.refuse(c);
  if (bytes === "cut off") return refuse(c, 400, "The request body ended before its declared length");
  if (incoming) Object.assign(incoming, { rawBody: bytes });
  return bytes;
}

type Read = Buffer | "too large" | "cut off";

function readIncoming(incoming: IncomingMessage & { rawBody?: Buffer }, maxBytes: number): Promise<Read> {
  if (incoming.rawBody) return Promise.resolve(incoming.rawBody);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: Read) => {
      incoming.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        // The rest is never read: the answer closes the connection (request-essentials.ts).
        incoming.pause();
        finish("too large");
      } else chunks.push(chunk);
    };
    const onEnd = () => finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    // The client went away before the body ended (an error here is always that).
    const onClose = () => finish("cut off");
    const onError = () => finish("cut off");
    incoming.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}

async function readWeb(request: Request, maxBytes: number): Promise<Read> {
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel();
      return "too large";
    }
    chunks.push(value);
  }
}
