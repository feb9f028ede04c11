import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import type { Config } from "./env";

type HttpConfig = Pick<Config, "headersTimeoutMs" | "clientRequestTimeoutMs" | "maxHeaderBytes">;

/**
 * The HTTP server with its limits on slow and oversized clients: request heads larger than
 * `maxHeaderBytes` get 431, clients that take longer than the timeouts to send their headers
 * or their whole request get 408 and are disconnected.
 */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  config: HttpConfig,
  address: { port: number; host: string },
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
        },
      },
      (info: AddressInfo) => resolve({ server, port: info.port }),
    );
    server.once("error", reject);
  });
}
