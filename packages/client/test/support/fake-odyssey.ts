import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { initTRPC, TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import superjson from "superjson";

// A stand-in Odyssey server for the client's network behaviour (retries, timeouts, aborts):
// a real tRPC handler with the client's transformer, whose answers a test scripts one HTTP
// request at a time. The live server is exercised by the consumer test in apps/server.

/** What the next HTTP request gets: a normal answer, a tRPC error, or a failure below tRPC. */
export type Behaviour =
  | "ok"
  | TRPC_ERROR_CODE_KEY
  | "hang"
  | "slow"
  | "drop"
  | "html-502"
  | "json-413"
  | "proxy-401-json-object"
  | "json-200-array"
  | "json-200-object"
  | "proxy-429-retry-after-date";

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
}

export interface FakeOdyssey {
  url: string;
  /** Every HTTP request received, in order. */
  requests: SeenRequest[];
  /** Script the next requests; once the script runs out, requests are answered normally. */
  script(...behaviours: Behaviour[]): void;
  close(): Promise<void>;
}

const t = initTRPC.context<{ fail: TRPC_ERROR_CODE_KEY | undefined }>().create({ transformer: superjson });
const failIfScripted = t.middleware(({ ctx, next }) => {
  if (ctx.fail) throw new TRPCError({ code: ctx.fail, message: `scripted ${ctx.fail}` });
  return next();
});
const procedure = t.procedure.use(failIfScripted);
const createdAt = new Date("2026-01-02T03:04:05.678Z");
const fakeRouter = t.router({
  journeys: t.router({
    get: procedure
      .input((raw) => raw as { slug: string })
      .query(({ input }) => ({ slug: input.slug, createdAt })),
    create: procedure
      .input((raw) => raw as { slug: string })
      .mutation(({ input }) => ({ slug: input.slug, createdAt })),
  }),
});

export async function startFakeOdyssey(): Promise<FakeOdyssey> {
  const requests: SeenRequest[] = [];
  const queue: Behaviour[] = [];
  const hanging = new Set<() => void>();

  const server = createServer(async (req, res) => {
    requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers });
    const behaviour = queue.shift() ?? "ok";
    if (behaviour === "drop") return req.socket.destroy();
    if (behaviour === "hang") {
      const release = () => res.destroy();
      hanging.add(release);
      res.on("close", () => hanging.delete(release));
      return;
    }
    if (behaviour === "json-413") {
      // What the real server's body limit answers, in front of tRPC.
      res.writeHead(413, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: "Request body is larger than 1048576 bytes" }));
    }
    if (behaviour === "proxy-401-json-object") {
      // A gateway's refusal in front of the server, its error an object rather than text.
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: { code: 401, message: "Unauthorized by proxy" } }));
    }
    if (behaviour === "json-200-array" || behaviour === "json-200-object") {
      // Something other than Odyssey answering 200 with JSON: a stub, a misrouted proxy.
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(behaviour === "json-200-array" ? "[]" : '{"status":"ok"}');
    }
    if (behaviour === "proxy-429-retry-after-date") {
      // A proxy's rate limit, which names the time to come back rather than a delay.
      const at = new Date(Date.now() + 2000).toUTCString();
      res.writeHead(429, { "content-type": "text/plain", "retry-after": at });
      return res.end("Too Many Requests");
    }
    if (behaviour === "html-502") {
      res.writeHead(502, { "content-type": "text/html" });
      return res.end("<html><body>Bad gateway</body></html>");
    }
    // A normal answer, 100 ms late: longer than a timer that fired at once would wait.
    if (behaviour === "slow") await new Promise((resolve) => setTimeout(resolve, 100));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.concat(chunks);
    const response = await fetchRequestHandler({
      endpoint: "/trpc",
      req: new Request(`http://127.0.0.1${req.url}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body,
      }),
      router: fakeRouter,
      createContext: () => ({ fail: behaviour === "ok" || behaviour === "slow" ? undefined : behaviour }),
    });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...behaviours) => queue.push(...behaviours),
    async close() {
      for (const release of hanging) release();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
