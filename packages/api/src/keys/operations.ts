import { apiKeys, type Database, newId, organizations } from "@odyssey/db";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { generateKey, hashKey, type KeyKind } from "../auth/keys";
import { allScopes, publishableScopes, type Scope } from "../auth/scopes";
import { NotFoundError, ValidationError } from "../errors";
import { Slug } from "../journeys/schema";

// Key management is an operator's job (the CLI), not an API caller's: these take the database
// directly rather than an organization-scoped context.

/** The organization with `slug`, created if absent; `created` says whether this call made it. */
export async function ensureOrganization(
  db: Database,
  slug: string,
): Promise<{ id: string; slug: string; created: boolean }> {
  if (!Slug.safeParse(slug).success)
    throw new ValidationError(
      `Organization slug "${slug}" must contain only lowercase letters, numbers, and hyphens`,
    );
  const [inserted] = await db
    .insert(organizations)
    .values({ id: newId("org"), slug, name: slug })
    .onConflictDoNothing({ target: organizations.slug })
    .returning({ id: organizations.id, slug: organizations.slug });
  if (inserted) return { ...inserted, created: true };
  const [org] = await db
    .select({ id: organizations.id, slug: organizations.slug })
    .from(organizations)
    .where(eq(organizations.slug, slug));
  if (!org) throw new Error(`Organization ${slug} vanished after insert`);
  return { ...org, created: false };
}

export interface CreatedKey {
  id: string;
  orgId: string;
  orgSlug: string;
  /** The organization was made for this key (a typo in its slug would make one silently). */
  orgCreated: boolean;
  kind: KeyKind;
  scopes: Scope[];
  /** The secret itself: shown once, never stored. */
  key: string;
}

export async function createApiKey(
  db: Database,
  input: { orgSlug: string; kind: KeyKind; scopes?: readonly Scope[]; name?: string },
): Promise<CreatedKey> {
  const scopes = [...(input.kind === "publishable" ? publishableScopes : (input.scopes ?? allScopes))];
  if (input.kind === "publishable" && input.scopes?.some((s) => !publishableScopes.includes(s)))
    throw new ValidationError(`Publishable keys may only have the scopes: ${publishableScopes.join(", ")}`);
  if (scopes.length === 0) throw new ValidationError("A key needs at least one scope");
  const org = await ensureOrganization(db, input.orgSlug);
  const key = generateKey(input.kind);
  const id = newId("key");
  await db.insert(apiKeys).values({
    orgId: org.id,
    id,
    name: input.name ?? null,
    kind: input.kind,
    displayPrefix: key.slice(0, 11),
    hash: hashKey(key),
    scopes,
  });
  return { id, orgId: org.id, orgSlug: org.slug, orgCreated: org.created, kind: input.kind, scopes, key };
}

export interface KeySummary {
  id: string;
  name: string | null;
  kind: KeyKind;
  displayPrefix: string;
  scopes: string[];
  createdAt: Date;
  revokedAt: Date | null;
}

export async function listApiKeys(db: Database, orgSlug: string): Promise<KeySummary[]> {
  const org = await findOrganizationBySlug(db, orgSlug);
  if (!org) throw new NotFoundError(`Organization "${orgSlug}" not found`);
  return db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      kind: apiKeys.kind,
      displayPrefix: apiKeys.displayPrefix,
      scopes: apiKeys.scopes,
      createdAt: apiKeys.createdAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .where(eq(apiKeys.orgId, org.id))
    .orderBy(asc(apiKeys.createdAt));
}

/** Revokes the key; `alreadyRevoked` (and the first revocation's time) when it was before. */
export async function revokeApiKey(
  db: Database,
  keyId: string,
): Promise<{ id: string; revokedAt: Date; alreadyRevoked: boolean }> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id, revokedAt: apiKeys.revokedAt });
  if (row?.revokedAt) return { id: row.id, revokedAt: row.revokedAt, alreadyRevoked: false };
  // Not updated: revoked before (revocation is never undone), or no such key.
  const [before] = await db
    .select({ id: apiKeys.id, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(eq(apiKeys.id, keyId));
  if (!before?.revokedAt) throw new NotFoundError(`API key "${keyId}" not found`);
  return { id: before.id, revokedAt: before.revokedAt, alreadyRevoked: true };
}

/**
 * On a brand-new database, creates the `default` organization and an all-scopes key so a new
 * user can call the API at once. Answers the key, or null when any organization already exists.
 * The advisory lock keeps two processes starting together from both creating one.
 */
export async function bootstrapDefaultKey(db: Database): Promise<CreatedKey | null> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(727002)`);
    const [any] = await tx.select({ id: organizations.id }).from(organizations).limit(1);
    if (any) return null;
    return createApiKey(tx as unknown as Database, { orgSlug: "default", kind: "secret", name: "default" });
  });
}

export async function findOrganizationBySlug(db: Database, slug: string) {
  const [org] = await db.select().from(organizations).where(eq(organizations.slug, slug));
  return org ?? null;
}
