import { createHash, timingSafeEqual } from "node:crypto";
import { apiKeys, compiledRowMapper, type Database, randomToken } from "@odyssey/db";
import { eq, sql } from "drizzle-orm";
import type { ApiKeyIdentity } from "../context";
import { UnauthorizedError } from "../errors";
import { preparedPerDatabase } from "../prepared";
import { requireScope, type Scope } from "./scopes";

export const keyPrefixes = { secret: "ody_sk_", publishable: "ody_pk_" } as const;
export type KeyKind = keyof typeof keyPrefixes;

/** Keys carry ~190 bits, so a fast hash is enough: SHA-256 of the key is what is stored. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export function generateKey(kind: KeyKind): string {
  return `${keyPrefixes[kind]}${randomToken(32)}`;
}

// The scheme name is case-insensitive and may be followed by several spaces (RFC 9110); the key
// is then looked up exactly.
const bearer = /^Bearer +([A-Za-z0-9_]{1,200})$/i;

/** The key in an `Authorization: Bearer …` header; throws 401-kind errors for anything else. */
export function keyFromAuthorization(header: string | undefined): string {
  if (header === undefined || header.trim() === "")
    throw new UnauthorizedError("Missing API key: send it as Authorization: Bearer <key>");
  const match = bearer.exec(header.trim());
  if (!match?.[1]) throw new UnauthorizedError("Malformed Authorization header: expected Bearer <key>");
  return match[1];
}

export interface VerifiedKey {
  orgId: string;
  key: ApiKeyIdentity;
}

/** What `verifiedKeyRow` checks of a key: every lookup of a presented key selects these. */
export const keyColumns = {
  hash: apiKeys.hash,
  id: apiKeys.id,
  orgId: apiKeys.orgId,
  kind: apiKeys.kind,
  scopes: apiKeys.scopes,
  revokedAt: apiKeys.revokedAt,
};

/**
 * Finds the key by the hash of what was presented. The lookup is by an index on the hash: what
 * the index compares is a SHA-256 digest, which a caller cannot steer byte by byte towards a
 * stored one, so its timing reveals nothing usable. The row found is still checked against
 * the digest in constant time, so no comparison here depends on where two values differ.
 */
const keyByHash = preparedPerDatabase((db) =>
  compiledRowMapper(
    db
      .select(keyColumns)
      .from(apiKeys)
      .where(eq(apiKeys.hash, sql.placeholder("hash")))
      .limit(1)
      .prepare("key_by_hash"),
  ),
);

export async function verifyKey(db: Database, presented: string): Promise<VerifiedKey> {
  const digest = hashKey(presented);
  const [row] = await keyByHash(db).execute({ hash: digest });
  return verifiedKeyRow(row, digest);
}

/** The check every procedure makes before it reads its input: a valid key that holds `scope`. */
export async function authorizeKey(
  db: Database,
  authorization: string | undefined,
  scope: Scope,
): Promise<VerifiedKey> {
  const verified = await verifyKey(db, keyFromAuthorization(authorization));
  requireScope(verified.key, scope);
  return verified;
}

/** The key a lookup by `digest` found, once checked; throws 401-kind errors for none or revoked. */
export function verifiedKeyRow(
  row:
    | {
        hash: string;
        id: string;
        orgId: string;
        kind: "secret" | "publishable";
        scopes: string[];
        revokedAt: Date | null;
      }
    | undefined,
  digest: string,
): VerifiedKey {
  if (!row || !sameDigest(row.hash, digest)) throw new UnauthorizedError("Invalid API key");
  if (row.revokedAt) throw new UnauthorizedError("API key has been revoked");
  return { orgId: row.orgId, key: { id: row.id, kind: row.kind, scopes: row.scopes as Scope[] } };
}

function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}
