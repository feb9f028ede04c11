import { STATUS_CODES } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
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
    const server = serve(
      {
        fetch,
        port: address.port,
        hostname: address.host,
        serverOptions: {
          headersTimeout: Math.min(config.headersTimeoutMs, config.clientRequestTimeoutMs),
          requestTimeout: config.clientRequestTimeoutMs,
          maxHeaderSize: config.maxHeaderBytes,
          // How often Node looks for clients past those timeouts (its default is 30 s).
          connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
          // Each answer's request id, security headers, access log line and connection handling.
          ServerResponse: essentialsResponse(logger, isAccepting),
        },
      },
      (info: AddressInfo) => resolve({ server, port: info.port }),
    );
    server.on("clientError", answerClientError);
    server.once("error", reject);
  });
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
