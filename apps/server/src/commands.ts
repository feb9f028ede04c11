import { createApiKey, listApiKeys, revokeApiKey, Scope, seedDemoJourney } from "@odyssey/api";
import type { DatabaseHandle } from "@odyssey/db";
import { z } from "zod";

// Operator commands, run by the CLI on its own database connection or, when the server holds
// the embedded database, by the server on the CLI's behalf (admin-socket.ts).

export const Command = z.discriminatedUnion("name", [
  z.object({ name: z.literal("migrate") }),
  z.object({
    name: z.literal("keys.create"),
    org: z.string(),
    scopes: z.array(Scope).optional(),
    keyName: z.string().max(255).optional(),
    publishable: z.boolean().default(false),
  }),
  z.object({ name: z.literal("keys.list"), org: z.string() }),
  z.object({ name: z.literal("keys.revoke"), keyId: z.string() }),
  z.object({
    name: z.literal("seed.demo"),
    org: z.string().default("default"),
    days: z.int().min(1).max(60).default(21),
    replace: z.boolean().default(false),
  }),
]);
export type Command = z.infer<typeof Command>;

export type Progress = (done: number, total: number, label: string) => void;

export async function runCommand(
  database: DatabaseHandle,
  command: Command,
  progress: Progress,
  /** Stops a long command where it can stop cleanly (the demo seed, between batches). */
  signal?: AbortSignal,
): Promise<unknown> {
  const { db } = database;
  switch (command.name) {
    case "migrate":
      await database.migrate();
      return { migrated: true };
    case "keys.create":
      return createApiKey(db, {
        orgSlug: command.org,
        kind: command.publishable ? "publishable" : "secret",
        scopes: command.scopes,
        name: command.keyName,
      });
    case "keys.list":
      return listApiKeys(db, command.org);
    case "keys.revoke":
      return revokeApiKey(db, command.keyId);
    case "seed.demo":
      return seedDemoJourney(db, {
        orgSlug: command.org,
        days: command.days,
        replace: command.replace,
        progress,
        signal,
      });
  }
}
