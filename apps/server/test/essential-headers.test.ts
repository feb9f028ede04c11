import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EssentialsResponse, securityHeaders } from "../src/essential-headers";
import { essentialsResponse } from "../src/request-essentials";
import { recordingLogger } from "./support/log-lines";
import { rawRequest } from "./support/raw-http";

// The response class the server answers with: the security headers and the request id are
// written with each answer's own headers, once each, and an answer's own header of the same name wins.

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Serves one handler with EssentialsResponse and answers the raw header list of one GET. */
async function answerOf(handler: (res: EssentialsResponse) => void): Promise<[string, string][]> {
  server = createServer(
    { ServerResponse: EssentialsResponse },
    (_req: IncomingMessage, res: ServerResponse) => handler(res as EssentialsResponse),
  );
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const raw = await new Promise<string[]>((resolve, reject) =>
    get(`http://127.0.0.1:${port}/`, (res) => {
      res.resume();
      res.on("end", () => resolve(res.rawHeaders));
    }).on("error", reject),
  );
  const pairs: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i] as string, raw[i + 1] as string]);
  return pairs;
}

const valuesOf = (headers: [string, string][], name: string) =>
  headers.filter(([key]) => key.toLowerCase() === name.toLowerCase()).map(([, value]) => value);

describe("EssentialsResponse", () => {
  it("writes the security headers and the request id once each, with the answer's own", async () => {
    const headers = await answerOf((res) => {
      res.requestId = "abc-1";
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 2 });
      res.end("{}");
    });
    for (const [name, value] of securityHeaders) expect(valuesOf(headers, name)).toEqual([value]);
    expect(valuesOf(headers, "x-request-id")).toEqual(["abc-1"]);
    expect(valuesOf(headers, "content-type")).toEqual(["application/json"]);
  });

  it("lets the answer's own header win over a default of the same name, whatever its case", async () => {
    const headers = await answerOf((res) => {
      res.requestId = "abc-2";
      res.writeHead(200, "Fine", { "x-frame-options": "DENY", "X-REQUEST-ID": "own-id" });
      res.end();
    });
    expect(valuesOf(headers, "x-frame-options")).toEqual(["DENY"]);
    expect(valuesOf(headers, "x-request-id")).toEqual(["own-id"]);
    expect(valuesOf(headers, "referrer-policy")).toEqual(["no-referrer"]);
  });

  it("lets a header set with setHeader win, and keeps it", async () => {
    const headers = await answerOf((res) => {
      res.setHeader("Referrer-Policy", "same-origin");
      res.setHeader("Vary", "Origin");
      res.writeHead(204, ["Cache-Control", "no-store"]);
      res.end();
    });
    expect(valuesOf(headers, "referrer-policy")).toEqual(["same-origin"]);
    expect(valuesOf(headers, "vary")).toEqual(["Origin"]);
    expect(valuesOf(headers, "cache-control")).toEqual(["no-store"]);
    expect(valuesOf(headers, "x-content-type-options")).toEqual(["nosniff"]);
    expect(valuesOf(headers, "x-request-id")).toEqual([]);
  });

  it("adds them to an answer whose headers Node writes implicitly", async () => {
    const headers = await answerOf((res) => {
      res.requestId = "abc-3";
      res.statusCode = 404;
      res.end("none");
    });
    for (const [name, value] of securityHeaders) expect(valuesOf(headers, name)).toEqual([value]);
    expect(valuesOf(headers, "x-request-id")).toEqual(["abc-3"]);
  });

  it("keeps a list-valued header whole", async () => {
    const headers = await answerOf((res) => {
      res.writeHead(200, { "Set-Cookie": ["a=1", "b=2"] });
      res.end();
    });
    expect(valuesOf(headers, "set-cookie")).toEqual(["a=1", "b=2"]);
  });
});

describe("essentialsResponse", () => {
  /** A server answering with the class, its log lines, and whether it is still accepting. */
  async function essentialsServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
    const { logger, lines } = recordingLogger("debug");
    const state = { accepting: true };
    const Response = essentialsResponse(logger, () => state.accepting);
    server = createServer({ ServerResponse: Response }, handler);
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { port, lines, state };
  }
  const ok = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(201, { "Content-Type": "application/json" });
    res.end("{}");
  };

  it("logs one line per answer: its id, method, path without the query, status and time", async () => {
    const { port, lines } = await essentialsServer(ok);
    const answer = await fetch(`http://127.0.0.1:${port}/api/journeys?limit=5`, {
      headers: { "x-request-id": "from-balancer-7" },
    });
    await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(answer.status).toBe(201);
    expect(answer.headers.get("x-request-id")).toBe("from-balancer-7");
    await expect.poll(() => lines.filter((line) => line.msg === "request").length).toBe(2);
    const [api, probe] = lines.filter((line) => line.msg === "request");
    expect(api).toMatchObject({
      level: 30,
      requestId: "from-balancer-7",
      method: "GET",
      path: "/api/journeys",
      status: 201,
    });
    expect(api?.ms).toEqual(expect.any(Number));
    // Health probes are debug-level.
    expect(probe).toMatchObject({ level: 20, path: "/healthz", status: 201 });
    expect(probe?.requestId).toMatch(/^[\w-]{8,}$/);
  });

  it("never logs an API key sent as the request id or pasted into the path", async () => {
    const { port, lines } = await essentialsServer(ok);
    const key = `ody_sk_${"A1b2".repeat(8)}`;
    const publishable = `ody_pk_${"Z9y8".repeat(8)}`;
    const answer = await fetch(`http://127.0.0.1:${port}/api/journeys/${publishable}?x=1`, {
      headers: { "x-request-id": key },
    });
    expect(answer.status).toBe(201);
    // The id is not taken from the client: a new one is answered and logged.
    const id = answer.headers.get("x-request-id");
    expect(id).not.toContain("ody_");
    await expect.poll(() => lines.filter((line) => line.msg === "request").length).toBe(1);
    const [line] = lines.filter((l) => l.msg === "request");
    expect(line).toMatchObject({ requestId: id, path: "/api/journeys/ody_pk_[redacted]" });
    expect(JSON.stringify(lines)).not.toMatch(/A1b2|Z9y8/);
  });

  it("keeps connections while accepting, and closes each after its answer once shutdown has begun", async () => {
    const { port, state } = await essentialsServer(ok);
    const url = `http://127.0.0.1:${port}`;
    const request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const kept = await rawRequest(url, [request], { waitMs: 300 });
    expect(kept.response).toMatch(/^HTTP\/1.1 201/);
    expect(kept.response).toMatch(/\r\nConnection: keep-alive\r\n/i);
    expect(kept.closedByServer).toBe(false);
    state.accepting = false;
    const closed = await rawRequest(url, [request]);
    expect(closed.response).toMatch(/^HTTP\/1.1 201/);
    expect(closed.response).toMatch(/\r\nConnection: close\r\n/i);
    expect(closed.closedByServer).toBe(true);
  });

  it("closes the connection after an answer that left the body unread, over the answer's own Connection", async () => {
    const { port } = await essentialsServer((_req, res) => {
      res.writeHead(413, { Connection: "keep-alive" });
      res.end();
    });
    const answer = await rawRequest(`http://127.0.0.1:${port}`, [
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{",
    ]);
    expect(answer.response).toMatch(/^HTTP\/1.1 413/);
    expect(answer.response).toMatch(/\r\nConnection: close\r\n/i);
    expect(answer.response).not.toMatch(/keep-alive/i);
    expect(answer.closedByServer).toBe(true);
  });
});
