import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/env";

// The configuration as env.ts reads it: what a value means, and the sentence a bad one gets.

const refused = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe("numeric settings", () => {
  it("treat a blank value as unset, and ignore spaces around a value", () => {
    const config = loadConfig({
      PORT: " ",
      SHUTDOWN_TIMEOUT_MS: "\t",
      RATE_LIMIT_CONTROL_PER_SECOND: "  ",
      MAX_BODY_BYTES: " 2048 ",
    });
    expect(config.port).toBe(3000);
    expect(config.shutdownTimeoutMs).toBe(8000);
    expect(config.rateLimits.control.perSecond).toBe(20);
    expect(config.maxBodyBytes).toBe(2048);
  });

  it.each([
    ["PORT", "0x1F90"],
    ["MAX_BODY_BYTES", "1e6"],
    ["REQUEST_TIMEOUT_MS", "1000.5"],
    ["RATE_LIMIT_CONTROL_BURST", "-5"],
    ["DATABASE_POOL_SIZE", "+4"],
    ["RATE_LIMIT_INGEST_PER_SECOND", "Infinity"],
  ])("refuse %s=%s, naming it", (name, value) => {
    const message = refused({ [name]: value });
    expect(message.startsWith(`Invalid ${name}: `)).toBe(true);
    expect(message.endsWith(`(got "${value}")`)).toBe(true);
  });

  it("take a fraction only for a rate a second", () => {
    expect(loadConfig({ RATE_LIMIT_INGEST_PER_SECOND: "0.5" }).rateLimits.ingest.perSecond).toBe(0.5);
    expect(refused({ RATE_LIMIT_INGEST_BURST: "1.5" })).toMatch(/^Invalid RATE_LIMIT_INGEST_BURST: /);
  });

  it("still enforce the ranges", () => {
    expect(refused({ PORT: "65536" })).toMatch(/^Invalid PORT: /);
    expect(loadConfig({ PORT: "0" }).port).toBe(0);
  });

  it("name the range in the words of the other settings' messages", () => {
    expect(refused({ PORT: "70000" })).toBe(
      'Invalid PORT: must be a whole number from 0 to 65535 (got "70000")',
    );
    expect(refused({ DATABASE_POOL_SIZE: "0" })).toBe(
      'Invalid DATABASE_POOL_SIZE: must be a whole number from 1 to 200 (got "0")',
    );
    expect(refused({ RATE_LIMIT_INGEST_PER_SECOND: "100000.5" })).toBe(
      'Invalid RATE_LIMIT_INGEST_PER_SECOND: must be a decimal number from 0 to 100000 (got "100000.5")',
    );
  });
});

describe("DATABASE_URL", () => {
  it.each([
    "postgres://postgres@127.0.0.1:5432",
    "postgres://postgres@127.0.0.1:5432/",
    "postgres://",
    "postgres://127.0.0.1",
    "postgresql:///odyssey",
  ])("refuses %s, which names no host or no database", (url) => {
    expect(refused({ DATABASE_URL: url })).toMatch(
      /^Invalid DATABASE_URL: name the database \(postgres:\/\/user@host:5432\/<database>\)/,
    );
  });

  it.each([
    "sslmode=bogus",
    "sslmode=verify-ca",
    "sslmode=",
    "sslmode=allow",
    "sslmode=disable&sslmode=bogus",
    "ssl=allow",
    "ssl=bogus",
    "sslmode=disable&sslrootcert=system",
  ])("refuses %s, which the driver would not read as libpq does", (query) => {
    expect(refused({ DATABASE_URL: `postgres://u@db.internal/odyssey?${query}` })).toMatch(
      /^Invalid DATABASE_URL: sslmode \(or ssl\) must be one of disable, prefer, require, verify-full, and verify-full with sslrootcert=system/,
    );
  });

  it.each([
    ["postgres://u@db.internal/odyssey", {}, "disable"],
    ["postgres://u@db.internal/odyssey?sslmode=prefer", {}, "prefer"],
    ["postgres://u@db.internal/odyssey?ssl=require", {}, "require"],
    ["postgres://u@db.internal/odyssey?sslmode=require&sslmode=disable", {}, "disable"],
    ["postgres://u@db.internal/odyssey?sslmode=prefer&ssl=require", {}, "prefer"],
    ["postgres://u@db.internal/odyssey", { PGSSL: "require" }, "require"],
    ["postgres://u@db.internal/odyssey?sslmode=disable", { PGSSL: "require" }, "disable"],
    ["postgres://u@db.internal/odyssey", { PGSSL: "  " }, "disable"],
    ["postgres://u@db.internal/odyssey?sslmode=verify-full&sslrootcert=system", {}, "verify-full"],
  ])("reads the TLS mode of %s with %j as %s", (url, env, mode) => {
    expect(loadConfig({ DATABASE_URL: url, ...env }).databaseTls).toBe(mode);
  });

  it("refuses a PGSSL the driver would not read as libpq does, and takes the others", () => {
    expect(refused({ PGSSL: "allow" })).toMatch(
      /^Invalid PGSSL: must be one of disable, prefer, require, verify-full/,
    );
    expect(() => loadConfig({ PGSSL: "disable" })).not.toThrow();
  });

  it("does not repeat the URL, which may hold a password", () => {
    expect(refused({ DATABASE_URL: "postgres://u:secret@db.internal" })).not.toContain("secret");
  });

  it.each([
    "postgres://postgres@127.0.0.1:5432/odyssey",
    "postgresql://u:p@db.internal/odyssey?sslmode=require",
    "postgres://u@db.internal/odyssey?sslmode=disable",
    "postgres://u@db.internal/odyssey?ssl=require&sslrootcert=/etc/ca.pem",
    "postgres://u@db.internal/odyssey?sslmode=verify-full&sslrootcert=system",
    "postgres:///odyssey?host=/var/run/postgresql",
  ])("accepts %s", (url) => {
    expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
  });
});

describe("HOST", () => {
  it("serves this machine only unless set: a first start prints a key with every scope", () => {
    expect(loadConfig({}).host).toBe("127.0.0.1");
    expect(loadConfig({ HOST: "0.0.0.0" }).host).toBe("0.0.0.0");
  });
});

describe("README's configuration table", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");
  const rows = readme.split("\n").filter((line) => /^\| `[A-Z_]+`/.test(line));
  // Each variable of a row, with the range the row gives it (ranges in the order of the names).
  const variables = rows.flatMap((row) => {
    const [names = "", , meaning = ""] = row.split("|").slice(1);
    const ranges = [...meaning.matchAll(/(\d+)–(\d+)/g)].map(([, low, high]) => [Number(low), Number(high)]);
    return [...names.matchAll(/`([A-Z_]+)`/g)].map(([, name = ""], i) => ({ name, range: ranges[i] }));
  });
  const loads = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return true;
    } catch {
      return false;
    }
  };
  // Numeric: takes some number (within its range) and refuses a word.
  const numeric = variables.filter(
    ({ name }) => !loads({ [name]: "many" }) && ["4", "2000"].some((n) => loads({ [name]: n })),
  );

  it("gives every numeric variable the range env.ts enforces", () => {
    expect(numeric.map(({ name }) => name)).toContain("RATE_LIMIT_INGEST_BURST");
    expect(numeric.length).toBe(14);
    for (const { name, range } of numeric) {
      expect(range, name).toBeDefined();
      const [low = 0, high = 0] = range ?? [];
      const at = (value: number) => loads({ [name]: String(value) });
      expect([at(low - 1), at(low), at(high), at(high + 1)], name).toEqual([false, true, true, false]);
    }
  });
});
