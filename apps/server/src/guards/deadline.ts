import type { MiddlewareHandler } from "hono";
import { errorJson } from "../rest/errors";

/**
 * Answers 503 when a request is not done within `ms`, so no caller hangs on a stuck database.
 * The handler is left to finish on its own; its late answer is dropped.
 */
export function deadline(ms: number): MiddlewareHandler {
  return async (c, next) => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), ms);
    });
    try {
      const outcome = await Promise.race([next().then(() => "done" as const), expired]);
      if (outcome === "expired")
        c.res = errorJson(c, 503, `The request did not complete within ${ms} ms; retry shortly`, {
          "Retry-After": "1",
        });
    } finally {
      clearTimeout(timer);
    }
  };
}
