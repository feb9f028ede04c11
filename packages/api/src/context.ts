import type { Database } from "@odyssey/db";
import type { Scope } from "./auth/scopes";

/** What every call starts with: the database and the credential the caller presented. */
export interface BaseContext {
  db: Database;
  /** The raw `Authorization` header, if any. */
  authorization: string | undefined;
  /** The `Origin` header of a browser request, if any. */
  origin?: string | undefined;
  /** The `User-Agent` and `Sec-CH-UA-Mobile` headers, used to tell a device when events omit it. */
  userAgent?: string | undefined;
  uaMobile?: string | undefined;
  /** The `Idempotency-Key` header: a retry with the same key replays the first answer. */
  idempotencyKey?: string | undefined;
  /** Time of receipt, fixed once per request so every event in a batch shares it. */
  receivedAt?: Date;
  /** "Now" for analytics windows; absent means the wall clock. Tests set it. */
  now?: Date;
  /**
   * Told when the key presented has been found and is unrevoked, whatever its scopes: the rate
   * limit lets keys that work through from an address refused for presenting made-up ones.
   */
  keyVerified?: () => void;
}

export interface ApiKeyIdentity {
  id: string;
  kind: "secret" | "publishable";
  scopes: readonly Scope[];
}

/** A caller whose key was verified: every operation is confined to `orgId`. */
export interface OrgContext {
  db: Database;
  orgId: string;
  key: ApiKeyIdentity;
  now?: Date;
}
