import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { getRequestListener, RequestError, type ServerType } from "@hono/node-server";
import { internalErrorMessage } from "@odyssey/api";
import type { Config } from "./env";
import { securityHeaders } from "./essential-headers";
import type { Logger } from "./logger";
import { essentialsResponse } from "./request-essentials";

type HttpConfig = Pick<
  Config,
  "headersTimeoutMs" | "clientRequestTimeoutMs" | "maxHeaderBytes" | "maxBodyBytes"
>;

/** What every answer gets (request-essentials.ts): the access log, and whether to keep connections. */
export interface Essentials {
  logger: Logger;
  /** False once shutdown has begun: connections close after their answer. */
  isAccepting?: () => boolean;
}

export interface Listening {
  server: ServerType;
  port: number;
  /**
   * Stops accepting connections, closes those with no request being answered, and resolves once
   * the requests in flight have been answered.
   */
  close(): Promise<void>;
}

const notInTime = "The request was not received in time";

/**
 * The HTTP server with its limits on slow and oversized clients: request heads larger than
 * `maxHeaderBytes` get 431, clients that take longer than the timeouts to send their headers
 * or their whole request get 408 and are disconnected, a body declared past `maxBodyBytes`
 * gets 413 before the client is invited to send it.
 */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  config: HttpConfig,
  address: { port: number; host: string },
  { logger, isAccepting = () => true }: Essentials,
): Promise<Listening> {
  const checkEveryMs = Math.min(1000, config.headersTimeoutMs);
  const serve = getRequestListener(fetch, { hostname: address.host, errorHandler: answerUnusableRequest });
  // HTTP/1.1 requires Host, and an http URI a host (RFC 9112 3.2, RFC 9110 4.2.1). Node's own
  // check (requireHostHeader) answers an empty 400 and lets an empty Host through, which the
  // adapter, like a missing one, replaces with the listening address. HTTP/1.0 does not require
  // Host: such a request (a health checker's) is served on that address. Node keeps the first of
  // several Host lines, where a proxy in front may have routed by another: RFC 9112 3.2 asks for a
  // 400 to any request with more than one.
  const handle = (incoming: IncomingMessage, outgoing: ServerResponse) =>
    !incoming.headers.host && incoming.httpVersion === "1.1"
      ? answer(outgoing, 400, "Malformed HTTP request: missing host header")
      : hostLines(incoming.rawHeaders) > 1
        ? answer(outgoing, 400, "Malformed HTTP request: more than one host header")
        : serve(incoming, outgoing);
  return new Promise((resolve, reject) => {
    const server = createServer(
      {
        headersTimeout: Math.min(config.headersTimeoutMs, config.clientRequestTimeoutMs),
        requestTimeout: config.clientRequestTimeoutMs,
        maxHeaderSize: config.maxHeaderBytes,
        requireHostHeader: false,
        // How often Node looks for clients past those timeouts (its default is 30 s).
        connectionsCheckingInterval: checkEveryMs,
        // Each answer's request id, security headers, access log line and connection handling.
        ServerResponse: essentialsResponse(logger, isAccepting),
      },
      handle,
    );
    // Node confirms `Expect: 100-continue` itself, before anything has judged the request: a body
    // declared past the limit would be invited, then refused. Such a request goes to the app
    // uninvited instead, which refuses it by its declared length (413, with the events routes'
    // own limit and message) without reading it. A body within the events routes' lower limit's
    // reach is still invited, then refused.
    server.on("checkContinue", (incoming: IncomingMessage, outgoing: ServerResponse) => {
      if (!(Number(incoming.headers["content-length"]) > config.maxBodyBytes)) outgoing.writeContinue();
      handle(incoming, outgoing);
    });
    // Any other expectation: Node's own answer is an empty 417.
    server.on("checkExpectation", (_incoming: IncomingMessage, outgoing: ServerResponse) =>
      answer(outgoing, 417, "Only the expectation 100-continue is supported"),
    );
    server.on("clientError", answerClientError);
    server.on("connect", (_request, socket: Socket) =>
      answerRaw(socket, 405, "Method CONNECT is not supported"),
    );

    // The open connections, and how many requests each has handed over and not yet answered.
    const connections = new Set<Socket>();
    const answering = new WeakMap<Socket, number>();
    server.on("connection", (socket: Socket) => {
      connections.add(socket);
      socket.once("close", () => connections.delete(socket));
    });
    const track = (incoming: IncomingMessage, outgoing: ServerResponse) => {
      const { socket } = incoming;
      answering.set(socket, (answering.get(socket) ?? 0) + 1);
      outgoing.once("close", () => {
        const left = (answering.get(socket) ?? 1) - 1;
        if (left > 0) answering.set(socket, left);
        else answering.delete(socket);
      });
    };
    // Every event that hands this server a request (each has its handler above).
    for (const event of ["request", "checkContinue", "checkExpectation"]) server.on(event, track);

    // Node closes idle connections, but counts one whose request head is half sent as busy, and
    // stops timing heads once closed: one stalled head would hold the close until the shutdown
    // deadline. Such connections get a moment to finish their head (one split in transit
    // arrives within it), then the 408 and are closed.
    const close = () =>
      new Promise<void>((resolve) => {
        const stalled = setTimeout(() => {
          for (const socket of connections) {
            if (answering.has(socket)) continue;
            if (socket.writable) answerRaw(socket, 408, notInTime);
            socket.destroySoon();
          }
        }, checkEveryMs);
        server.close(() => {
          clearTimeout(stalled);
          resolve();
        });
        server.closeIdleConnections();
      });

    server.once("error", reject);
    server.listen(address.port, address.host, () =>
      resolve({ server, port: (server.address() as AddressInfo).port, close }),
    );
  });
}

/** An `{"error"}` answer through the app's response (its essentials), closing the connection. */
function answer(outgoing: ServerResponse, status: number, message: string) {
  const body = JSON.stringify({ error: message });
  outgoing
    .writeHead(status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
      Connection: "close",
    })
    .end(body);
}

/**
 * A request Node parsed but from which no URL can be built (a malformed `Host`, a backslash in
 * the path) gets a 400 `{"error"}` rather than the adapter's empty 400. Anything else thrown
 * this far out is a 500 without details.
 */
function answerUnusableRequest(error: unknown): Response {
  if (error instanceof RequestError)
    return Response.json(
      { error: `Malformed HTTP request: ${error.message.toLowerCase()}` },
      { status: 400 },
    );
  return Response.json({ error: internalErrorMessage }, { status: 500 });
}

/** Headers every answer carries, including those Node writes before the app sees a request. */
const baseHeaders = [
  "Content-Type: application/json",
  "Connection: close",
  ...securityHeaders.map(([name, value]) => `${name}: ${value}`),
];

/**
 * Requests Node refuses itself (head too large, too slow, malformed) get the same `{"error"}`
 * answer as the rest of the API instead of a bare status line.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket) {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request headers are too large"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, notInTime]
        : [400, "Malformed HTTP request"];
  answerRaw(socket, status, message);
}

/** An `{"error"}` answer written straight to the socket, which is then closed. */
function answerRaw(socket: Socket, status: number, message: string) {
  const body = JSON.stringify({ error: message });
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      ...baseHeaders,
      `Content-Length: ${Buffer.byteLength(body)}`,
      "",
      body,
    ].join("\r\n"),
  );
}

/** How many Host lines a request's head holds (rawHeaders alternates names and values). */
function hostLines(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === "host") count++;
  }
  return count;
}
