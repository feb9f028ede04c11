import { randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataDirLockedError } from "@odyssey/db";
import { testEngine, testServerUrl } from "@odyssey/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeFailure, messageOf } from "../src/cli-errors";
import { ConfigError } from "../src/env";
import { type FreshDatabase, freshDatabase, runCli, runMain } from "./support/processes";

// A server that cannot start says why in one line naming the setting to change, and exits
// non-zero, without a stack trace (LOG_LEVEL debug or trace adds it).

const stackLine = /\n\s+at /;

/** The lines the process wrote itself, leaving out JSON log lines. */
const ownLines = (stderr: string) =>
  stderr.split("\n").filter((line) => line !== "" && !line.startsWith("{"));

function listenOn(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** A port nothing listens on: one the OS handed out and that was closed again. */
async function closedPort(): Promise<number> {
  const server = await listenOn(0, "127.0.0.1");
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("a port already in use", () => {
  let db: FreshDatabase;
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    db = await freshDatabase();
    taken = await listenOn(0, "127.0.0.1");
    port = (taken.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => taken.close(resolve));
    await db.drop();
  });

  it("stops the server with one line naming PORT", async () => {
    const result = await runMain({ ...db.env, PORT: String(port), HOST: "127.0.0.1" });
    expect(result.code).toBe(1);
    expect(ownLines(result.stderr)).toEqual([
      `odyssey: port ${port} on 127.0.0.1 is already in use; set PORT to another port`,
    ]);
    expect(result.stderr).not.toMatch(stackLine);
    // The one-time first key is left for a start that serves: this one printed none, made none.
    expect(result.stdout).toBe("");
    expect(await db.count("api_keys")).toBe(0);
  });

  it("adds the stack at LOG_LEVEL=debug", async () => {
    const result = await runMain({ ...db.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "debug" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`odyssey: port ${port} on 127.0.0.1 is already in use`);
    expect(result.stderr).toMatch(stackLine);
  });
});

describe.runIf(testEngine() === "postgres")("a database that does not exist", () => {
  it("stops the server with one line naming DATABASE_URL", async () => {
    const url = new URL(testServerUrl());
    const name = `odyssey_missing_${randomBytes(6).toString("hex")}`;
    url.pathname = `/${name}`;
    const result = await runMain({ DATABASE_URL: url.toString(), PORT: "0", HOST: "127.0.0.1" });
    expect(result.code).toBe(1);
    expect(ownLines(result.stderr)).toEqual([
      `odyssey: database "${name}" does not exist on Postgres at ${url.hostname}:${url.port || 5432}; create it or set DATABASE_URL to an existing database`,
    ]);
    expect(result.stderr).not.toMatch(stackLine);
  });
});

// These fail before any database is opened: one engine's run is enough.
const onceForBothEngines = describe.runIf(testEngine() === "postgres");

onceForBothEngines("Postgres not answering", () => {
  it("stops the server, and the CLI, with one line naming DATABASE_URL", async () => {
    const port = await closedPort();
    const env = { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/odyssey`, PORT: "0" };
    const message = `odyssey: cannot connect to Postgres at 127.0.0.1:${port}: connection refused; start Postgres or correct DATABASE_URL`;

    const server = await runMain(env);
    expect(server.code).toBe(1);
    expect(ownLines(server.stderr)).toEqual([message]);
    expect(server.stderr).not.toMatch(stackLine);

    const cli = await runCli(["migrate"], env);
    expect(cli).toMatchObject({ code: 1, stdout: "" });
    expect(ownLines(cli.stderr)).toEqual([message]);
  });
});

onceForBothEngines("an embedded data folder another process holds", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "odyssey-locked-"));
    // This test process holds it: alive, and not the process being started.
    writeFileSync(join(dataDir, "odyssey.pid"), String(process.pid));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const held = () => `The embedded database in ${dataDir} is open in another process (pid ${process.pid})`;

  it("stops the server with the CLI's sentence", async () => {
    const result = await runMain({ ODYSSEY_DATA_DIR: dataDir, PORT: "0" });
    expect(result.code).toBe(1);
    expect(ownLines(result.stderr)).toEqual([
      `odyssey: ${held()}. Stop that process and run this again, or set DATABASE_URL to use Postgres.`,
    ]);
    expect(result.stderr).not.toMatch(stackLine);
  });

  it("stops the CLI, which says the holder does not answer commands", async () => {
    const result = await runCli(["keys", "list", "--org", "acme"], { ODYSSEY_DATA_DIR: dataDir });
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(ownLines(result.stderr)).toEqual([
      `odyssey: ${held()}, which does not answer commands. Stop that process and run this again, or set DATABASE_URL to use Postgres.`,
    ]);
  });
});

onceForBothEngines("an embedded data folder that holds other files", () => {
  let folder: string;
  let dataDir: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), "odyssey-foreign-"));
    dataDir = join(folder, "data");
    writeFileSync(join(folder, "outside.txt"), "out");
    chmodSync(join(folder, "outside.txt"), 0o644);
    // The user's own folder: a file and a link to one outside it.
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "report.txt"), "hi");
    chmodSync(join(dataDir, "report.txt"), 0o644);
    symlinkSync(join(folder, "outside.txt"), join(dataDir, "link.txt"));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const message = () =>
    `odyssey: The folder ${dataDir} is not empty and holds no embedded database (no PG_VERSION); set ODYSSEY_DATA_DIR to a new or empty folder, or to an existing Odyssey data folder`;

  it.each([
    ["the server", () => runMain({ ODYSSEY_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" })],
    ["the CLI", () => runCli(["keys", "create", "--org", "acme"], { ODYSSEY_DATA_DIR: dataDir })],
  ])("stops %s with one line naming ODYSSEY_DATA_DIR, changing nothing", async (_who, run) => {
    const result = await run();
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(ownLines(result.stderr)).toEqual([message()]);
    expect(readdirSync(dataDir).sort()).toEqual(["link.txt", "report.txt"]);
    expect(statSync(join(dataDir, "report.txt")).mode & 0o777).toBe(0o644);
    expect(statSync(join(folder, "outside.txt")).mode & 0o777).toBe(0o644);
  });
});

describe("describeFailure", () => {
  const where = { port: 3000, host: "0.0.0.0", databaseUrl: "postgres://u:secret@db.internal:6543/odyssey" };
  const system = (message: string, fields: Record<string, unknown>) =>
    Object.assign(new Error(message), fields);

  it.each([
    [
      "a port this user may not use",
      system("listen EACCES", { code: "EACCES", syscall: "listen" }),
      "port 3000 on 0.0.0.0 may not be used by this user; set PORT to a port from 1024 up",
    ],
    [
      "a HOST not of this machine",
      system("listen EADDRNOTAVAIL", { code: "EADDRNOTAVAIL", syscall: "listen" }),
      "HOST 0.0.0.0 is not an address of this machine; set HOST to one of its addresses, or 0.0.0.0 for all",
    ],
    [
      "an unknown database host",
      system("getaddrinfo ENOTFOUND db.internal", {
        code: "ENOTFOUND",
        syscall: "getaddrinfo",
        hostname: "db.internal",
      }),
      'cannot connect to Postgres: host "db.internal" was not found; correct DATABASE_URL',
    ],
    [
      "a database that does not answer",
      system("write CONNECT_TIMEOUT db.internal:6543", { code: "CONNECT_TIMEOUT" }),
      "cannot connect to Postgres at db.internal:6543: no answer in time; check that it is reachable or correct DATABASE_URL",
    ],
    [
      "a refused login",
      system('password authentication failed for user "u"', { code: "28P01" }),
      'Postgres at db.internal:6543 refused the login: password authentication failed for user "u"; correct the user or password in DATABASE_URL',
    ],
    [
      "a query failing for a refused connection",
      // drizzle wraps a query's failure; the reason is its cause.
      new Error("Failed query: select 1\nparams: ", {
        cause: system("connect ECONNREFUSED", { code: "ECONNREFUSED", syscall: "connect" }),
      }),
      "cannot connect to Postgres at db.internal:6543: connection refused; start Postgres or correct DATABASE_URL",
    ],
    ["a bad setting", new ConfigError("Invalid PORT: too big"), "Invalid PORT: too big"],
    [
      "a data folder another process holds",
      new DataDirLockedError("/data", 42),
      "The embedded database in /data is open in another process (pid 42). Stop that process and run this again, or set DATABASE_URL to use Postgres.",
    ],
  ])("%s", (_case, error, message) => {
    expect(describeFailure(error, where)).toBe(message);
    expect(message).not.toContain("secret");
  });

  it("does not blame Postgres for a refused connection when DATABASE_URL is unset", () => {
    const refused = system("connect ECONNREFUSED /data/admin.sock", {
      code: "ECONNREFUSED",
      syscall: "connect",
    });
    expect(describeFailure(refused, { ...where, databaseUrl: undefined })).toBeUndefined();
  });

  it("leaves other errors to their message, on one line and without query parameters", () => {
    const error = new Error(
      'Failed query: insert into "api_keys"\n  values ($1, $2)\nparams: key_1,a1b2c3hash',
      {
        cause: new Error("disk full"),
      },
    );
    expect(describeFailure(error, where)).toBeUndefined();
    expect(messageOf(error)).toBe('Failed query: insert into "api_keys" values ($1, $2): disk full');
  });
});
