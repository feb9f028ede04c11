import { randomBytes } from "node:crypto";

const alphabet = "0123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/** Random base58 text; 16 characters carry about 94 bits. */
export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

export type IdPrefix = "org" | "journey" | "step" | "key" | "snap";

/** Prefixed ids (`journey_4kTq…`) say what they name wherever they turn up. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomToken(16)}`;
}
