import { connect } from "node:net";

/**
 * Sends raw bytes to the server (what fetch refuses to send: invalid UTF-8, oversized heads,
 * clients that stop halfway), and answers what came back before the server closed the
 * connection or `waitMs` passed.
 */
export function rawRequest(
  url: string,
  /** Sent in order; a promise is awaited first, so a test can hold a request halfway. */
  chunks: (string | Buffer | Promise<string | Buffer>)[],
  /** `halfClose`: end the sending side after the last chunk (a client that stops mid-body). */
  options: { waitMs?: number; pauseMs?: number; halfClose?: boolean } = {},
): Promise<{ response: string; closedByServer: boolean }> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), "127.0.0.1");
    let response = "";
    let settled = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, closedByServer });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 5000);
    socket.on("data", (data) => {
      response += data.toString("latin1");
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.on("connect", async () => {
      for (const pending of chunks) {
        const chunk = await pending;
        if (socket.destroyed) return;
        socket.write(chunk);
        if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
      if (options.halfClose) socket.end();
    });
  });
}

/** The status code of a raw HTTP/1.1 answer, or undefined when none came. */
export const statusOf = (response: string): number | undefined => {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(response);
  return match ? Number(match[1]) : undefined;
};

/** The JSON body of a raw answer (Content-Length framed, as this server answers). */
export const bodyOf = (response: string): unknown => {
  const at = response.indexOf("\r\n\r\n");
  return at < 0 ? undefined : JSON.parse(Buffer.from(response.slice(at + 4), "latin1").toString("utf8"));
};
