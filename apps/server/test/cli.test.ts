import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockFilePath } from "@odyssey/db";
import { testEngine } from "@odyssey/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FreshDatabase,
  freshDatabase,
  type RunningServer,
  runCli,
  runMain,
  spawnCli,
  startServer,
  stopAllServers,
} from "./support/processes";

// The operator CLI and the server's start, as real subprocesses on a fresh database of the
// run's engine. On the embedded engine the CLI reaches the running server's database through
// its admin socket; on Postgres it opens its own connection.

const keyLine = (kind: "sk" | "pk") => new RegExp(`^ody_${kind}_[A-Za-z0-9]{32}\\n$`);

async function api(url: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** `seed --demo` for 60 days, sent Ctrl-C once its events are being sent: its exit and stderr. */
async function interruptedSeed(
  org: string,
  env: Record<string, string>,
  signals: NodeJS.Signals[] = ["SIGINT"],
) {
  const child = spawnCli(["seed", "--demo", "--org", org, "--days", "60"], env);
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve) =>
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
      if (stderr.includes("Sending demo events")) resolve();
    }),
  );
  // Apart by as much as pnpm takes to pass a signal on: sent together, the kernel merges them.
  for (const [i, signal] of signals.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, 20));
    child.kill(signal);
  }
  const code = await exited;
  return { code, stderr };
}

describe("migrate", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(() => db.drop());

  it("applies the migrations to a fresh database and does nothing else", async () => {
    expect(await db.migrated()).toBe(false);
    const result = await runCli(["migrate"], db.env);
    expect(result).toMatchObject({ code: 0, stdout: "" });
    expect(result.stderr).toContain("Database is up to date.");
    expect(await db.migrated()).toBe(true);
    expect(await db.count("organizations")).toBe(0);
    expect((await runCli(["migrate"], db.env)).code).toBe(0);
  });
});

describe.runIf(testEngine() === "postgres")("the TLS mode", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(() => db.drop());

  it("is PGSSL's when DATABASE_URL names none, disable included, and blank is unset", async () => {
    for (const PGSSL of ["disable", "prefer", " "])
      expect(await runCli(["migrate"], { ...db.env, PGSSL }), PGSSL).toMatchObject({ code: 0 });
    const required = await runCli(["migrate"], { ...db.env, PGSSL: "require" });
    expect(required.code).toBe(1);
  });
});

describe("keys create on a fresh database, with no server running", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(() => db.drop());

  it("migrates first, creates the organization and prints only the key", async () => {
    const result = await runCli(["keys", "create", "--org", "offline", "--scopes", "journeys:read"], db.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(keyLine("sk"));
    expect(result.stderr).toContain('organization "offline"');
    expect(await db.count("api_keys")).toBe(1);
  });

  it("lists a name stored with control characters escaped: one line of six columns a key", async () => {
    const created = await runCli(["keys", "create", "--org", "escapes", "--name", "plain"], db.env);
    expect(created.code).toBe(0);
    await db.execute("update api_keys set name = E'tab\\there\\nnext\\rline\\x01end' where name = 'plain'");
    const listed = await runCli(["keys", "list", "--org", "escapes"], db.env);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.split("\n").slice(0, -1);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.split("\t")).toHaveLength(6);
    expect(lines[0]?.split("\t")[5]).toBe("tab\\there\\nnext\\rline\\u0001end");
    // A backslash in a name is doubled: the text `\t` does not read as an escaped tab.
    await runCli(["keys", "create", "--org", "escapes", "--name", "a\\tb"], db.env);
    const again = await runCli(["keys", "list", "--org", "escapes"], db.env);
    expect(again.stdout).toContain("\ta\\\\tb\n");
  });

  it("says which database it made, the first time only", async () => {
    const fresh = await freshDatabase();
    try {
      const first = await runCli(["keys", "create", "--org", "first"], fresh.env);
      expect(first.code).toBe(0);
      expect(first.stderr).toContain(
        fresh.env.ODYSSEY_DATA_DIR
          ? `Created a new embedded database in ${fresh.env.ODYSSEY_DATA_DIR}.`
          : "Set up Odyssey's tables in an empty database: Postgres at 127.0.0.1:",
      );
      expect(first.stderr).not.toContain("postgres@");
      const again = await runCli(["keys", "create", "--org", "first"], fresh.env);
      expect(again.code).toBe(0);
      expect(again.stderr).not.toMatch(/Created a new|Set up Odyssey's tables/);
    } finally {
      await fresh.drop();
    }
  });
});

describe.runIf(testEngine() === "pglite")("reading commands with no embedded database", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "odyssey-nodb-"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each([
    [["keys", "list", "--org", "default"], "absent"],
    [["keys", "revoke", "key_x"], "absent"],
    [["keys", "list", "--org", "default"], "empty"],
  ])("%j on an %s folder exits 1, says where it looked, and makes nothing", async (args, state) => {
    const dataDir = join(root, `${state}-${args[1]}`);
    if (state === "empty") mkdirSync(dataDir);
    const result = await runCli(args, { ODYSSEY_DATA_DIR: dataDir });
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr).toBe(
      `odyssey: No embedded database at ${dataDir}: run the command in the folder the server was started in, start the server first (pnpm start), or set ODYSSEY_DATA_DIR or DATABASE_URL\n`,
    );
    expect(state === "empty" ? readdirSync(dataDir) : existsSync(dataDir)).toEqual(
      state === "empty" ? [] : false,
    );
  });
});

describe("the server and the CLI together", () => {
  let db: FreshDatabase;
  let server: RunningServer | undefined;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await stopAllServers();
    await db.drop();
  });

  it("prints a default organization key on the first start only", async () => {
    const first = await startServer(db.env);
    const printed = /ody_sk_[A-Za-z0-9]{32}/.exec(first.stdout());
    expect(first.stdout()).toContain('Created organization "default"');
    expect(printed).not.toBeNull();
    const key = printed?.[0] ?? "";
    expect(await api(first.url, key, "GET", "/api/journeys")).toEqual({
      status: 200,
      body: { data: [], nextCursor: null },
    });
    expect(await first.stop()).toBe(0);

    server = await startServer(db.env);
    expect(server.stdout()).not.toMatch(/ody_sk_/);
    expect((await api(server.url, key, "GET", "/api/journeys")).status).toBe(200);
  });

  it("creates a working key while the server runs", async () => {
    const url = server?.url ?? "";
    const created = await runCli(
      ["keys", "create", "--org", "acme", "--scopes", "journeys:read,journeys:write", "--name", "ci"],
      db.env,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(keyLine("sk"));
    const key = created.stdout.trim();
    expect(created.stderr).toContain('Created organization "acme".');

    const made = await api(url, key, "POST", "/api/journeys/create", {
      slug: "from-cli",
      displayName: "From CLI",
    });
    expect(made.status).toBe(201);
    expect((await api(url, key, "GET", "/api/journeys/from-cli")).body).toMatchObject({ slug: "from-cli" });

    const readOnly = await runCli(["keys", "create", "--org", "acme", "--scopes", "journeys:read"], db.env);
    expect(readOnly.stderr).not.toContain("Created organization");
    const denied = await api(url, readOnly.stdout.trim(), "PUT", "/api/journeys/from-cli", {
      displayName: "x",
    });
    expect(denied).toEqual({
      status: 403,
      body: { error: "API key does not have required scope: journeys:write" },
    });
  });

  it("adds up repeated --scopes", async () => {
    const result = await runCli(
      [
        "keys",
        "create",
        "--org",
        "acme",
        "--scopes",
        "journeys:read",
        "--scopes",
        "events:write,journeys:read",
      ],
      db.env,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("(journeys:read, events:write)");
  });

  it("creates publishable keys", async () => {
    const result = await runCli(
      ["keys", "create", "--org", "acme", "--publishable", "--name", "web"],
      db.env,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(keyLine("pk"));
  });

  it("lists an organization's keys and revokes one, which is refused on its next request", async () => {
    const url = server?.url ?? "";
    const created = await runCli(["keys", "create", "--org", "acme", "--name", "doomed"], db.env);
    const key = created.stdout.trim();
    expect((await api(url, key, "GET", "/api/journeys")).status).toBe(200);

    const listed = await runCli(["keys", "list", "--org", "acme"], db.env);
    expect(listed.code).toBe(0);
    const rows = listed.stdout
      .trim()
      .split("\n")
      .map((line) => line.split("\t"));
    expect(rows).toHaveLength(5);
    for (const row of rows) expect(row[0]).toMatch(/^key_/);
    expect(listed.stdout).not.toContain(key);
    const doomed = rows.find((row) => row[5] === "doomed");
    expect(doomed?.[1]).toBe(`${key.slice(0, 11)}…`);
    expect(doomed?.[4]).toBe("active");
    expect(rows.find((row) => row[5] === "web")?.[2]).toBe("publishable");

    const revoked = await runCli(["keys", "revoke", doomed?.[0] ?? ""], db.env);
    expect(revoked.code).toBe(0);
    expect(await api(url, key, "GET", "/api/journeys")).toEqual({
      status: 401,
      body: { error: "API key has been revoked" },
    });
    const after = await runCli(["keys", "list", "--org", "acme"], db.env);
    expect(after.stdout).toMatch(new RegExp(`${doomed?.[0]}\\t[^\\n]*\\trevoked `));

    const again = await runCli(["keys", "revoke", doomed?.[0] ?? ""], db.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`^${doomed?.[0]} was already revoked \\(\\d{4}-`));
  });

  it("seeds a new organization and says how to get a key for it", async () => {
    const result = await runCli(["seed", "--demo", "--org", "brandnew", "--days", "1"], db.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("demo-small-business-grant\n");
    expect(result.stderr).toContain(
      'Organization "brandnew" is new and has no API key: create one with pnpm odyssey keys create --org brandnew, then see its analytics: GET /api/journeys/demo-small-business-grant',
    );
    const existing = await runCli(["seed", "--demo", "--org", "acme", "--days", "1"], db.env);
    expect(existing.code).toBe(0);
    expect(existing.stderr).toContain("See its analytics: GET /api/journeys/demo-small-business-grant");
    expect(existing.stderr).not.toContain("no API key");
  });

  it.runIf(testEngine() === "pglite")(
    "says on Ctrl-C that the server carries on with the command",
    async () => {
      const { code, stderr } = await interruptedSeed("interrupted", db.env);
      expect(code).toBe(130);
      expect(stderr).toContain("odyssey: interrupted; the server carries on with the command");
    },
  );

  it.runIf(testEngine() === "pglite")(
    "stops a seed it runs when it is stopped itself, deleting the partly seeded journey",
    async () => {
      const seeding = spawnCli(["seed", "--demo", "--org", "shutdown", "--days", "60"], db.env);
      let stderr = "";
      const exited = new Promise<number | null>((resolve) => seeding.on("close", resolve));
      await new Promise<void>((resolve) =>
        seeding.stderr?.on("data", (chunk) => {
          stderr += chunk;
          if (stderr.includes("Sending demo events")) resolve();
        }),
      );
      expect(await server?.stop()).toBe(0);
      expect(await exited).toBe(1);
      expect(stderr).toContain(
        "odyssey: Seeding was interrupted; the partly seeded demo journey was deleted",
      );
      server = await startServer(db.env);
      const seeded = await runCli(["seed", "--demo", "--org", "shutdown", "--days", "1"], db.env);
      expect(seeded.stderr).toMatch(/^Created journey "demo-small-business-grant"/m);
    },
  );

  it("answers an unknown key id or organization with exit 1 and a message", async () => {
    const revoke = await runCli(["keys", "revoke", "key_doesnotexist"], db.env);
    expect(revoke).toMatchObject({ code: 1, stdout: "" });
    expect(revoke.stderr).toContain('API key "key_doesnotexist" not found');
    const list = await runCli(["keys", "list", "--org", "nobody"], db.env);
    expect(list).toMatchObject({ code: 1, stdout: "" });
    expect(list.stderr).toContain('Organization "nobody" not found');
  });
});

describe.runIf(testEngine() === "pglite")("a command while the server restarts after a crash", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await stopAllServers();
    await db.drop();
  });

  it("waits for the new server's admin socket instead of failing on the old one", async () => {
    const dataDir = db.env.ODYSSEY_DATA_DIR ?? "";
    const crashed = await startServer(db.env);
    await crashed.kill();
    // The killed server's socket file is left behind; the new server holds the folder (its lock
    // names it) a moment before its own socket listens.
    expect(existsSync(join(dataDir, "admin.sock"))).toBe(true);
    const holder = () => {
      try {
        return readFileSync(lockFilePath(dataDir), "utf8");
      } catch {
        return ""; // between the stale lock's removal and the new one
      }
    };
    const stale = holder();
    const restarting = startServer(db.env);
    while (holder() === stale || holder() === "") await new Promise((resolve) => setTimeout(resolve, 5));
    const listed = await runCli(["keys", "list", "--org", "default"], db.env);
    // Listening before anything is asserted, so afterAll stops it whatever the outcome.
    await restarting;
    expect(listed.stderr).toBe("");
    expect(listed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^key_\w+\t/) });
  });
});

describe("seed --demo with no server running", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(() => db.drop());

  it("stops cleanly on Ctrl-C, deleting the partly seeded journey, so a new seed runs", async () => {
    const { code, stderr } = await interruptedSeed("stopped", db.env);
    expect(code).toBe(130);
    expect(stderr).toContain("odyssey: Seeding was interrupted; the partly seeded demo journey was deleted");
    expect(await db.count("events")).toBe(0);
    expect(await db.count("journeys")).toBe(0);

    const seeded = await runCli(["seed", "--demo", "--org", "stopped", "--days", "1"], db.env);
    expect(seeded.code).toBe(0);
    expect(seeded.stderr).toMatch(/^Created journey "demo-small-business-grant"/m);
  });

  it("finishes a seed whose events were all sent when a signal comes: prints its answer, exits 0", async () => {
    const child = spawnCli(["seed", "--demo", "--org", "late-signal", "--days", "2"], db.env);
    let stderr = "";
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stderr?.on("data", (chunk) => {
        stderr += chunk;
        if (/\b100% /.test(stderr)) resolve();
      }),
    );
    // The last batch is stored: what is left is closing the database and printing.
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/^Created journey "demo-small-business-grant"/m);
    // The journey stays: seeding the organization again needs --replace.
    const again = await runCli(["seed", "--demo", "--org", "late-signal", "--days", "1"], db.env);
    expect(again.stderr).toContain("to seed it again, replace it");
  });

  it("stops the same way on SIGTERM, which pnpm sends after passing Ctrl-C on", async () => {
    const { code, stderr } = await interruptedSeed("terminated", db.env, ["SIGTERM"]);
    expect(code).toBe(130);
    expect(stderr).toContain("odyssey: Seeding was interrupted; the partly seeded demo journey was deleted");
    const again = await runCli(["seed", "--demo", "--org", "terminated", "--days", "1"], db.env);
    expect(again.stderr).toMatch(/^Created journey "demo-small-business-grant"/m);
  });

  it("takes one Ctrl-C that reaches it more than once under pnpm as one: the partial journey is deleted", async () => {
    // The terminal's SIGINT, then pnpm's own passed on: as SIGINT (`pnpm start`) or SIGTERM
    // (`pnpm odyssey`), a few milliseconds later.
    const { code, stderr } = await interruptedSeed("signalled-twice", db.env, [
      "SIGINT",
      "SIGINT",
      "SIGTERM",
    ]);
    expect(code).toBe(130);
    expect(stderr).toContain("odyssey: Seeding was interrupted; the partly seeded demo journey was deleted");
    const again = await runCli(["seed", "--demo", "--org", "signalled-twice", "--days", "1"], db.env);
    expect(again.stderr).toMatch(/^Created journey "demo-small-business-grant"/m);
  });

  it("refuses to seed twice unless told to replace, and then replaces", async () => {
    await runCli(["seed", "--demo", "--org", "twice", "--days", "1"], db.env);
    const again = await runCli(["seed", "--demo", "--org", "twice", "--days", "1"], db.env);
    expect(again).toMatchObject({ code: 1, stdout: "" });
    expect(again.stderr).toContain("to seed it again, replace it (odyssey seed --demo --replace");
    const replaced = await runCli(["seed", "--demo", "--org", "twice", "--days", "1", "--replace"], db.env);
    expect(replaced.code).toBe(0);
    expect(replaced.stderr).toMatch(/^Replaced journey "demo-small-business-grant" in organization "twice"/m);
  });
});

describe.runIf(testEngine() === "postgres")("two servers starting together on one empty database", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await stopAllServers();
    await db.drop();
  });

  it("migrate once and print one default key between them", async () => {
    const servers = await Promise.all([startServer(db.env), startServer(db.env)]);
    const printed = servers.filter((server) => /ody_sk_/.test(server.stdout()));
    expect(printed).toHaveLength(1);
    expect(await db.count("organizations")).toBe(1);
    expect(await db.count("api_keys")).toBe(1);
  });
});

// These fail before any database is opened: one engine's run is enough.
const onceForBothEngines = describe.runIf(testEngine() === "postgres");

onceForBothEngines("usage errors", () => {
  it.each([
    [
      ["keys", "create", "--org", "acme", "--scopes", "journeys:read,journeys:admin"],
      'Unknown scope "journeys:admin"',
    ],
    [["keys", "create", "--scopes", "journeys:read"], "--org <org-slug> is required"],
    [["keys", "list"], "--org <org-slug> is required"],
    [["keys", "revoke"], "<key id> is required"],
    // Said plainly: Node's own words end in an unbalanced quote.
    [["keys", "create", "--org", "acme", "--bogus"], "odyssey: Unknown option: --bogus\n"],
    [["keys", "list", "--org", "acme", "--org", "other"], "--org may be given only once"],
    [["keys", "create", "--org", "acme", "--name", "a", "--name", "b"], "--name may be given only once"],
    [["seed", "--demo", "--days", "5", "--days", "6"], "--days may be given only once"],
    [["keys"], "keys needs create, list or revoke"],
    [["keys", "show"], "Unknown command: keys show (keys takes create, list or revoke)"],
    [["help", "keys"], "Unexpected argument: keys"],
    [["keys", "create", "--org", "acme", "--name", "n".repeat(256)], "--name must be at most 255 characters"],
    [
      ["keys", "create", "--org", "acme", "--name", "web\tsite"],
      "--name must not contain control characters (such as a tab or a line break)",
    ],
    [
      ["keys", "create", "--org", "acme", "--name", "two\nlines"],
      "--name must not contain control characters (such as a tab or a line break)",
    ],
    [["frobnicate"], "Unknown command: frobnicate"],
    [["keys", "list", "--org", "acme", "extra", "junk"], "Unexpected argument: extra junk"],
    [["keys", "revoke", "key_a", "key_b"], "Unexpected argument: key_b"],
    [["migrate", "now"], "Unexpected argument: now"],
    [["seed", "demo"], "Unexpected argument: demo"],
    [[], "Usage: odyssey"],
  ])("%j exits 2 with the usage on stderr", async (args, message) => {
    const result = await runCli(args, {});
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("Usage: odyssey <command>");
  });
});

onceForBothEngines("help", () => {
  it.each([[["help"]], [["--help"]], [["-h"]], [["keys", "create", "--help"]]])(
    "%j prints the usage on stdout and exits 0",
    async (args) => {
      const result = await runCli(args, {});
      expect(result).toMatchObject({ code: 0, stderr: "" });
      expect(result.stdout).toMatch(/^Usage: odyssey <command>\n/);
      expect(result.stdout).toContain("keys revoke <key id>");
    },
  );
});

describe("rejected arguments", () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(() => db.drop());

  it.each([
    [["keys", "create", "--org", "Bad Org!"], 'Organization slug "Bad Org!" must be'],
    [["keys", "list", "--org", "Bad!"], 'Organization slug "Bad!" must be'],
    [["seed", "--demo", "--org", "Bad!"], 'Organization slug "Bad!" must be'],
    [["seed", "--demo", "--days", "61"], "--days must be a whole number from 1 to 60"],
    [["seed", "--demo", "--days", "0x10"], "--days must be a whole number from 1 to 60"],
    [["seed", "--demo", "--days", "1e1"], "--days must be a whole number from 1 to 60"],
    [
      ["keys", "create", "--org", "acme", "--publishable", "--scopes", "journeys:read"],
      "Publishable keys may only have the scopes: events:write",
    ],
    [["keys", "revoke"], "<key id> is required"],
  ])("%j exits 2 with the usage, before opening the database", async (args, message) => {
    const result = await runCli(args, db.env);
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toContain(`odyssey: ${message}`);
    expect(result.stderr).toContain("Usage: odyssey <command>");
    expect(result.stderr).not.toContain("Unknown command");
    expect(await db.migrated()).toBe(false);
  });

  it("accepts a publishable key with the scope it may have", async () => {
    const result = await runCli(
      ["keys", "create", "--org", "acme", "--publishable", "--scopes", "events:write"],
      db.env,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(keyLine("pk"));
  });
});

onceForBothEngines("configuration", () => {
  it.each([
    [{ PORT: "abc" }, "Invalid PORT"],
    [{ PORT: "70000" }, "Invalid PORT: must be a whole number from 0 to 65535"],
    [{ DATABASE_URL: "mysql://x" }, "Invalid DATABASE_URL: must be a postgres:// or postgresql:// URL"],
    [{ LOG_LEVEL: "loud" }, "Invalid LOG_LEVEL"],
    [
      { DATABASE_URL: "", ODYSSEY_DATA_DIR: `/tmp/${"d".repeat(100)}` },
      `Invalid ODYSSEY_DATA_DIR: the path /tmp/${"d".repeat(100)} is too long for the admin socket it holds`,
    ],
  ])("%j stops the server with a message naming the variable", async (env, message) => {
    const result = await runMain(env);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("stops the CLI the same way", async () => {
    const result = await runCli(["migrate"], { DATABASE_URL: "mysql://x" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Invalid DATABASE_URL");
  });
});
