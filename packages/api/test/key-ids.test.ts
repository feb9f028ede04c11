import { pgErrorCode, queryRows } from "@odyssey/db";
import { createTestDatabase, type TestDatabase } from "@odyssey/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, revokeApiKey } from "../src/keys/operations";

// `odyssey keys revoke <key id>` names a key by its id alone, across organizations, as the key's
// hash does on every request: an id must name one key, found by index.

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database?.close();
});

describe("A key id", () => {
  it("names one key of one organization: another row with it is refused", async () => {
    const { db } = database;
    const mine = await createApiKey(db, { orgSlug: "ids-mine", kind: "secret" });
    const theirs = await createApiKey(db, { orgSlug: "ids-theirs", kind: "secret" });
    const copy = db.execute(sql`
      insert into api_keys (org_id, id, kind, display_prefix, hash, scopes)
      values (${theirs.orgId}, ${mine.id}, 'secret', 'ody_sk_x', 'another-hash', '{}')`);
    await expect(copy).rejects.toSatisfy((error) => pgErrorCode(error).constraint === "api_keys_id_unique");

    const revoked = await revokeApiKey(db, mine.id);
    expect(revoked).toMatchObject({ id: mine.id, alreadyRevoked: false });
    const states = await queryRows<{ id: string; revoked: boolean }>(
      db,
      sql`select id, revoked_at is not null as revoked from api_keys where id in (${mine.id}, ${theirs.id}) order by id = ${mine.id} desc`,
    );
    expect(states).toEqual([
      { id: mine.id, revoked: true },
      { id: theirs.id, revoked: false },
    ]);
  });
});
