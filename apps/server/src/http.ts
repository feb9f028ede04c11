import { createServer, STATUS_CODES } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { getRequestListener, RequestError, type ServerType } from "@hono/node-server";
import { internalErrorMessage } from "@odyssey/api";
import type { Config } from "./env";
import { securityHeaders } from "./essential-headers";
import type { Logger } from "./logger";
import { essentialsResponse } from "./request-essentials";

type HttpConfig = Pick<Config, "headersTimeoutMs" | "clientRequestTimeoutMs" | "maxHeaderBytes">;

/** What every answer gets (request-essentials.ts): the access log, and whether to keep connections. */
export interface Essentials {
  logger: Logger;
  /** False once shutdown has begun: connections close after their answer. */
  isAccepting?: () => boolean;
}

/**
 * The HTTP server with its limits on slow and oversized clients: request heads larger than
 * `maxHeaderBytes` get 431, clients that take longer than the timeouts to send their headers
 * or their whole request get 408 and are disconnected.
 */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  config: HttpConfig,
  address: { port: number; host: string },
  { logger, isAccepting = () => true }: Essentials,
): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer(
      {
        headersTimeout: Math.min(config.headersTimeoutMs, config.clientRequestTimeoutMs),
        requestTimeout: config.clientRequestTimeoutMs,
        maxHeaderSize: config.maxHeaderBytes,
        // How often Node looks for clients past those timeouts (its default is 30 s).
        connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
        // Each answer's request id, security headers, access log line and connection handling.
        ServerResponse: essentialsResponse(logger, isAccepting),
      },
      getRequestListener(fetch, { hostname: address.host, errorHandler: answerUnusableRequest }),
    );
    server.on("clientError", answerClientError);
    server.on("connect", (_request, socket: Socket) =>
      answerRaw(socket, 405, "Method CONNECT is not supported"),
    );
    server.once("error", reject);
    server.listen(address.port, address.host, () =>
      resolve({ server, port: (server.address() as AddressInfo).port }),
    );
  });
}

/**
 * A request Node parsed but from which no URL can be built (a missing or malformed `Host`, a
 * backslash in the path) gets a 400 `{"error"}` rather than the adapter's empty 400. Anything
 * else thrown this far out is a 500 without details.
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
        ? [408, "The request was not received in time"]
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
