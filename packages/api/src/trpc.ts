import { isConnectionError, isDatabaseBusy, isLostSession } from "@odyssey/db";
import { initTRPC, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import superjson from "superjson";
import { ZodError } from "zod";
import { serializeAnswer } from "./answer-serializer";
import { keyFromAuthorization, verifyKey } from "./auth/keys";
import { requireScope, type Scope, type ScopeName } from "./auth/scopes";
import type { BaseContext } from "./context";
import { DomainError, type DomainErrorKind } from "./errors";
import { deserializeInput, UnsupportedInputError } from "./superjson-input";
import {
  formatValidationError,
  malformedBodyMessage,
  missingBodyMessage,
  missingInputMessage,
  type Subject,
} from "./validation";

/**
 * What a procedure declares about itself; `scope` is read by the docs and the security tests.
 * It is part of the router's type, which @odyssey/client publishes: keep it free of zod types.
 */
export interface ProcedureMeta {
  scope?: ScopeName;
}

/**
 * The most calls one tRPC request may batch (larger batches get 400): each call is charged to
 * the rate limit, and a request's work stays bounded by its deadline. `@odyssey/client` sends
 * at most this many per request.
 */
export const MAX_TRPC_BATCH_CALLS = 10;

/** What a caller is told of an error the service did not expect; the cause goes to the log. */
export const internalErrorMessage = "Internal server error";

const t = initTRPC
  .context<BaseContext>()
  .meta<ProcedureMeta>()
  .create({
    // Inputs are read by superjson, in its encoding only; answers are written in superjson's
    // format by a one-pass serializer (answer-serializer.ts), which hands superjson anything it
    // does not cover.
    transformer: {
      input: { serialize: (value) => superjson.serialize(value), deserialize: deserializeInput },
      output: { serialize: serializeAnswer, deserialize: (value) => superjson.deserialize(value) },
    },
    errorFormatter({ shape }) {
      // Stacks stay on the server, and so does an unexpected error's message: a failed query's
      // quotes the SQL and its parameters (key hashes, event values). The server logs it.
      const { stack: _stack, ...data } = shape.data;
      const message = data.code === "INTERNAL_SERVER_ERROR" ? internalErrorMessage : shape.message;
      return { ...shape, message, data };
    },
  });

const codeOf: Record<DomainErrorKind, TRPC_ERROR_CODE_KEY> = {
  Validation: "BAD_REQUEST",
  Unauthorized: "UNAUTHORIZED",
  Forbidden: "FORBIDDEN",
  NotFound: "NOT_FOUND",
  Conflict: "CONFLICT",
  PayloadTooLarge: "PAYLOAD_TOO_LARGE",
  Unprocessable: "UNPROCESSABLE_CONTENT",
  Unavailable: "SERVICE_UNAVAILABLE",
};

export const databaseUnavailable = "The database is unavailable; retry shortly";
export const databaseBusy = "The database cannot complete this request at the moment; retry shortly";

const subjectOf: Record<string, Subject> = { journeys: "journey", events: "event" };

/**
 * The one place domain errors and input validation failures become tRPC errors, with the
 * same message text the REST API sends.
 */
const mapErrors = t.middleware(async ({ path, type, getRawInput, next }) => {
  const result = await next();
  if (result.ok) return result;
  const cause = result.error.cause;
  const known = knownTRPCError(cause);
  if (known) throw known;
  const subject = subjectOf[path.split(".")[0] ?? ""] ?? "request";
  if (cause instanceof ZodError && result.error.code === "BAD_REQUEST") {
    // A mutation without input (an empty body) is told what REST tells a request without a
    // body; a query, which has no body, is told of its input. Its input was read, so asking for
    // it again cannot fail.
    const missing = (await getRawInput()) === undefined;
    const message =
      type === "query"
        ? missing
          ? missingInputMessage(subject)
          : formatValidationError(cause, subject, "input")
        : missing
          ? missingBodyMessage(subject)
          : formatValidationError(cause, subject);
    throw new TRPCError({ code: "BAD_REQUEST", message, cause });
  }
  // Any other bad request with a cause is input the HTTP adapter could not decode.
  if (result.error.code === "BAD_REQUEST" && cause instanceof Error)
    throw new TRPCError({
      code: "BAD_REQUEST",
      message:
        cause instanceof SyntaxError
          ? type === "query"
            ? "Malformed JSON in the input query parameter"
            : malformedBodyMessage(subject)
          : cause instanceof UnsupportedInputError
            ? cause.message
            : "Malformed input: expected superjson's encoding ({ json, meta })",
      cause,
    });
  return result;
});

/**
 * A domain error, a lost database connection or a database that cannot complete the request now
 * (read-only, out of disk, a cancelled statement: `isDatabaseBusy`) as the tRPC error it is
 * answered with. The last two are 503s, which callers may send again, rather than 500s.
 */
export function knownTRPCError(cause: unknown): TRPCError | undefined {
  if (cause instanceof DomainError)
    return new TRPCError({ code: codeOf[cause.kind], message: cause.message, cause });
  if (isConnectionError(cause))
    return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: databaseUnavailable, cause });
  if (isDatabaseBusy(cause))
    return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: databaseBusy, cause });
  return undefined;
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * The pauses before each new run of a read whose session ended under it. When Postgres ends every
 * session of the pool at once, its processes take some milliseconds to exit, and until each one's
 * socket closes the pool hands reads to it. Run again at once, some reads met such a session four
 * times in a row; after 20 ms, none met one again (session-loss.reliability.test.ts).
 */
const LOST_SESSION_PAUSES_MS = [20, 40, 80];

/**
 * A read that met a session Postgres had just ended, before the pool noticed, runs again on
 * another session: it changed nothing. A write does not: its commit may have succeeded before the
 * answer was lost, and the caller decides (an Idempotency-Key, event ids) whether to send it again.
 * A database that cannot be reached is not retried here (`isLostSession`): that is a 503 at once.
 */
const retryReadOnLostSession = t.middleware(async ({ type, next }) => {
  if (type !== "query") return next();
  let result = await next();
  for (const pause of LOST_SESSION_PAUSES_MS) {
    if (result.ok || !isLostSession(result.error.cause)) break;
    await new Promise((resolve) => setTimeout(resolve, pause));
    result = await next();
  }
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors).use(retryReadOnLostSession);

/** Verifies the bearer key and narrows the context to its organization. */
export const authenticatedProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const verified = await verifyKey(ctx.db, keyFromAuthorization(ctx.authorization));
  ctx.keyVerified?.();
  return next({ ctx: { ...ctx, orgId: verified.orgId, key: verified.key } });
});

/**
 * The text at `field` of a procedure's raw input when `schema` accepts it, else "": what a
 * procedure may look up with the key before its input is checked. A value the contract refuses
 * (NUL, lone surrogate, too long) is never looked up; the input check answers it once the key
 * has passed.
 */
export function acceptedRawText(
  raw: unknown,
  field: string,
  schema: { safeParse(value: unknown): { success: boolean } },
): string {
  const value = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[field] : undefined;
  return typeof value === "string" && schema.safeParse(value).success ? value : "";
}

export function scopedProcedure(scope: Scope) {
  return authenticatedProcedure.meta({ scope }).use(({ ctx, next }) => {
    requireScope(ctx.key, scope);
    return next();
  });
}
