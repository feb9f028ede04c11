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
 * headers, as one list handed to `writeHead`. Set one by one with `setHeader` before the handler
 * runs, they sent every answer down Node's slower path: a header dictionary, each header validated,
 * then merged again with the answer's own at `writeHead` (a fifth of the instructions a `/healthz`
 * request cost, counted by callgrind; docs/benchmarks.md, fix 26).
 *
 * A header the answer sets itself, or that was set with `setHeader`, wins over the default of the
 * same name, which is then not written at all.
 */
export class EssentialsResponse<
  Incoming extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Incoming> {
  /** Set by the request-essentials middleware; answers given before it ran carry no id. */
  requestId: string | undefined;

  override writeHead(statusCode: number, statusMessage?: string, headers?: Headers): this;
  override writeHead(statusCode: number, headers?: Headers): this;
  override writeHead(statusCode: number, messageOrHeaders?: string | Headers, maybeHeaders?: Headers): this {
    const message = typeof messageOrHeaders === "string" ? messageOrHeaders : undefined;
    const own = typeof messageOrHeaders === "string" ? maybeHeaders : messageOrHeaders;
    const list: OutgoingHttpHeader[] = [];
    const ownNames: string[] = [];
    if (Array.isArray(own)) {
      // A flat [name, value, …] list, as Node takes it.
      for (let i = 0; i < own.length; i += 2) {
        const name = own[i];
        const value = own[i + 1];
        if (typeof name !== "string" || value === undefined) continue;
        ownNames.push(name.toLowerCase());
        list.push(name, value);
      }
    } else if (own) {
      for (const name in own) {
        const value = own[name];
        if (value === undefined) continue;
        ownNames.push(name.toLowerCase());
        list.push(name, value);
      }
    }
    const preset = this.getHeaderNames();
    const taken = (name: string) => ownNames.includes(name) || (preset.length > 0 && preset.includes(name));
    if (this.requestId !== undefined && !taken("x-request-id")) list.push("X-Request-Id", this.requestId);
    for (let i = 0; i < securityHeaders.length; i++) {
      const [name, value] = securityHeaders[i] as readonly [string, string];
      if (!taken(securityNames[i] as string)) list.push(name, value);
    }
    return message === undefined
      ? super.writeHead(statusCode, list)
      : super.writeHead(statusCode, message, list);
  }
}
