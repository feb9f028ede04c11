import {
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  ServerResponse,
} from "node:http";

/**
 * The headers every answer carries: the ones that matter for an API's JSON as well as for a page.
 * The answers Node writes itself (http.ts) carry them too.
 */
export const securityHeaders: readonly (readonly [string, string])[] = [
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "SAMEORIGIN"],
];

const securityNames = securityHeaders.map(([name]) => name.toLowerCase());

type Headers = OutgoingHttpHeaders | OutgoingHttpHeader[];

/**
 * Node's response, writing the security headers and the request id together with the answer's own
 * headers, as one list handed to `writeHead`, and closing the connection after the answer when
 * `keepsConnection()` says so. Set one by one with `setHeader` before the handler runs, the
 * headers sent every answer down Node's slower path: a header dictionary, each header validated,
 * then merged again with the answer's own at `writeHead` (a fifth of the instructions a `/healthz`
 * request cost, counted by callgrind; docs/benchmarks.md, fix 26).
 *
 * A header the answer sets itself, or that was set with `setHeader`, wins over the default of the
 * same name, which is then not written at all.
 */
export class EssentialsResponse<
  Incoming extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Incoming> {
  /** Written as `X-Request-Id` (request-essentials.ts sets it as each request arrives). */
  requestId: string | undefined;

  /** False when the connection must close after this answer. */
  protected keepsConnection(): boolean {
    return true;
  }

  /** Called once the answer's head is written (request-essentials.ts logs it). */
  protected headWritten(_statusCode: number): void {}

  override writeHead(statusCode: number, statusMessage?: string, headers?: Headers): this;
  override writeHead(statusCode: number, headers?: Headers): this;
  override writeHead(statusCode: number, messageOrHeaders?: string | Headers, maybeHeaders?: Headers): this {
    const message = typeof messageOrHeaders === "string" ? messageOrHeaders : undefined;
    const own = typeof messageOrHeaders === "string" ? maybeHeaders : messageOrHeaders;
    const close = !this.keepsConnection();
    const list: OutgoingHttpHeader[] = [];
    const ownNames: string[] = [];
    const keep = (name: string, value: OutgoingHttpHeader) => {
      const lower = name.toLowerCase();
      if (close && lower === "connection") return;
      ownNames.push(lower);
      list.push(name, value);
    };
    if (Array.isArray(own)) {
      // A flat [name, value, …] list, as Node takes it.
      for (let i = 0; i < own.length; i += 2) {
        const name = own[i];
        const value = own[i + 1];
        if (typeof name === "string" && value !== undefined) keep(name, value);
      }
    } else if (own) {
      for (const name in own) {
        const value = own[name];
        if (value !== undefined) keep(name, value);
      }
    }
    if (close) {
      this.removeHeader("Connection");
      list.push("Connection", "close");
    }
    const preset = this.getHeaderNames();
    const taken = (name: string) => ownNames.includes(name) || (preset.length > 0 && preset.includes(name));
    if (this.requestId !== undefined && !taken("x-request-id")) list.push("X-Request-Id", this.requestId);
    for (let i = 0; i < securityHeaders.length; i++) {
      const [name, value] = securityHeaders[i] as readonly [string, string];
      if (!taken(securityNames[i] as string)) list.push(name, value);
    }
    if (message === undefined) super.writeHead(statusCode, list);
    else super.writeHead(statusCode, message, list);
    this.headWritten(statusCode);
    return this;
  }
}
