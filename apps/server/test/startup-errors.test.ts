import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statfsSync,
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
import {
  type FreshDatabase,
  freshDatabase,
  runCli,
  runMain,
  spawnMain,
  startServer,
} from "./support/processes";

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

describe.runIf(testEngine() === "postgres")("a Postgres without TLS asked for TLS", () => {
  // The test server has no TLS: it answers the TLS request with no, and the handshake fails.
  const url = new URL(testServerUrl());
  const at = `Postgres at ${url.hostname}:${url.port || 5432}`;

  it("stops the server with one line naming sslmode in DATABASE_URL", async () => {
    const required = new URL(url);
    required.searchParams.set("sslmode", "require");
    const result = await runMain({ DATABASE_URL: required.toString(), PORT: "0", HOST: "127.0.0.1" });
    expect(result.code).toBe(1);
    expect(ownLines(result.stderr)).toEqual([
      `odyssey: cannot connect to ${at}: the server did not accept TLS, which sslmode=require in DATABASE_URL asks for; enable TLS on the server, or set sslmode=disable (or prefer) in DATABASE_URL`,
    ]);
    expect(result.stderr).not.toMatch(stackLine);
  });

  it("stops the CLI with one line naming PGSSL", async () => {
    const result = await runCli(["migrate"], { DATABASE_URL: url.toString(), PGSSL: "require" });
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(ownLines(result.stderr)).toEqual([
      `odyssey: cannot connect to ${at}: the server did not accept TLS, which PGSSL=require asks for; enable TLS on the server, or set PGSSL to disable (or prefer)`,
    ]);
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

onceForBothEngines("an embedded data folder path that names a file", () => {
  let folder: string;
  let file: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), "odyssey-file-"));
    file = join(folder, "data");
    writeFileSync(file, "not a folder");
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const advice = "set ODYSSEY_DATA_DIR to a new or empty folder, or to an existing Odyssey data folder";

  it.each([
    ["the server", (dataDir: string) => runMain({ ODYSSEY_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" })],
    [
      "the CLI creating",
      (dataDir: string) => runCli(["keys", "create", "--org", "acme"], { ODYSSEY_DATA_DIR: dataDir }),
    ],
    [
      "the CLI reading",
      (dataDir: string) => runCli(["keys", "list", "--org", "acme"], { ODYSSEY_DATA_DIR: dataDir }),
    ],
  ])("stops %s with one line naming ODYSSEY_DATA_DIR and the file, changing nothing", async (_who, run) => {
    const named = await run(file);
    expect(named).toMatchObject({ code: 1, stdout: "" });
    expect(ownLines(named.stderr)).toEqual([
      `odyssey: ODYSSEY_DATA_DIR names a file, not a folder: ${file}; ${advice}`,
    ]);
    const inside = await run(join(file, "db"));
    expect(inside).toMatchObject({ code: 1, stdout: "" });
    expect(ownLines(inside.stderr)).toEqual([
      `odyssey: ODYSSEY_DATA_DIR names a folder inside ${file}, which is a file, not a folder: ${join(file, "db")}; ${advice}`,
    ]);
    expect(readdirSync(folder)).toEqual(["data"]);
  });
});

onceForBothEngines("a first start on the embedded database cut short", () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), "odyssey-cut-short-"));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("leaves a folder the next start recognizes as its own and creates again", async () => {
    // Killed while the new database is being unpacked: retried until one kill lands in that window.
    let dataDir = "";
    for (let attempt = 0; attempt < 5 && !dataDir; attempt++) {
      const candidate = join(folder, `data-${attempt}`);
      const child = spawnMain({ ODYSSEY_DATA_DIR: candidate, PORT: "0", HOST: "127.0.0.1" });
      const exited = new Promise((resolve) => child.on("close", resolve));
      while (!existsSync(join(candidate, ".odyssey-unpacking")) && child.exitCode === null)
        await new Promise((resolve) => setImmediate(resolve));
      child.kill("SIGKILL");
      await exited;
      if (!existsSync(join(candidate, "PG_VERSION"))) dataDir = candidate;
    }
    expect(dataDir).not.toBe("");

    const cli = await runCli(["keys", "list", "--org", "default"], { ODYSSEY_DATA_DIR: dataDir });
    expect(ownLines(cli.stderr)).toEqual([
      `odyssey: No embedded database at ${dataDir}: run the command in the folder the server was started in, start the server first (pnpm start), or set ODYSSEY_DATA_DIR or DATABASE_URL`,
    ]);
    const server = await startServer({ ODYSSEY_DATA_DIR: dataDir });
    try {
      expect(server.stdout()).toMatch(/ody_sk_/);
    } finally {
      await server.stop();
    }
    expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(true);
    expect(readdirSync(dataDir).filter((name) => name.startsWith(".odyssey-"))).toEqual([]);
    const listed = await runCli(["keys", "list", "--org", "default"], { ODYSSEY_DATA_DIR: dataDir });
    expect(listed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^key_\w+\t/) });
  });
});

/** Whether this process may mount a small tmpfs (root on Linux, as in CI). */
function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), "odyssey-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

describe.runIf(testEngine() === "postgres" && canMount())("an embedded database on a full disk", () => {
  let disk: string;
  beforeAll(() => {
    disk = mkdtempSync(join(tmpdir(), "odyssey-full-disk-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", disk]);
  });
  afterAll(() => {
    execFileSync("umount", [disk]);
    rmSync(disk, { recursive: true, force: true });
  });

  it("stops the server and the CLI with one line saying how much space is free", async () => {
    const dataDir = join(disk, "data");
    const fill = (leaveBytes: number) => {
      rmSync(join(disk, "filler"), { force: true });
      const { bavail, bsize } = statfsSync(disk);
      writeFileSync(join(disk, "filler"), Buffer.alloc(Math.max(0, bavail * bsize - leaveBytes)));
    };
    // A server that ran out of space while storing events: its write-ahead log needs a new
    // segment (16 MiB) to open the database again.
    const server = await startServer({ ODYSSEY_DATA_DIR: dataDir });
    const key = /ody_sk_\w+/.exec(server.stdout())?.[0] ?? "";
    const call = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await call("/api/journeys/create", { slug: "j", displayName: "J", steps: [{ stepKey: "a", index: 0 }] });
    fill(12 * 1024 * 1024);
    let status = 200;
    let answer: unknown;
    for (let batch = 0; batch < 200 && status === 200; batch++) {
      const events = Array.from({ length: 500 }, (_, i) => ({
        id: randomUUID(),
        type: "field_focus",
        sessionId: `s-${batch}-${i % 50}`,
        stepKey: "a",
        field: "f".repeat(200),
        timestamp: new Date().toISOString(),
      }));
      const res = await call("/api/events", { journey: "j", events });
      [status, answer] = [res.status, await res.json()];
    }
    // Stopped before anything is asserted: a server left running would hold the disk mounted.
    await server.stop();
    // Out of disk is the database's condition, not the request's: a 503 to send it again later.
    expect([status, answer]).toEqual([
      503,
      { error: "The database cannot complete this request at the moment; retry shortly" },
    ]);
    fill(5 * 1024 * 1024);
    const full =
      /^odyssey: The embedded database in .* could not be opened, and its disk has \d+\.\d MiB free \(it needs about 32 MiB to be opened\); free some space or set ODYSSEY_DATA_DIR$/;

    const restarted = await runMain({ ODYSSEY_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" });
    expect(restarted.code).toBe(1);
    expect(ownLines(restarted.stderr)).toEqual([expect.stringMatching(full)]);
    const cli = await runCli(["keys", "list", "--org", "default"], { ODYSSEY_DATA_DIR: dataDir });
    expect(cli).toMatchObject({ code: 1, stdout: "" });
    expect(ownLines(cli.stderr)).toEqual([expect.stringMatching(full)]);

    // Nothing was lost: with room again, it opens.
    rmSync(join(disk, "filler"));
    const listed = await runCli(["keys", "list", "--org", "default"], { ODYSSEY_DATA_DIR: dataDir });
    expect(listed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^key_\w+\t/) });
  });

  it("says how much a new database needs when there is less, and leaves the space it found", async () => {
    rmSync(join(disk, "data"), { recursive: true, force: true });
    const { bavail, bsize } = statfsSync(disk);
    writeFileSync(join(disk, "filler"), Buffer.alloc(bavail * bsize - 20 * 1024 * 1024));
    const before = statfsSync(disk).bavail;
    const result = await runMain({ ODYSSEY_DATA_DIR: join(disk, "new"), PORT: "0", HOST: "127.0.0.1" });
    expect(result.code).toBe(1);
    expect(ownLines(result.stderr)).toEqual([
      expect.stringMatching(
        /^odyssey: The embedded database in .*new could not be created, and its disk has 20\.0 MiB free \(it needs about \d\d MiB to be created\); free some space or set ODYSSEY_DATA_DIR$/,
      ),
    ]);
    expect(statfsSync(disk).bavail).toBe(before);
    rmSync(join(disk, "filler"));
  });
});

/** Whether this process may run another as the user nobody (root, with util-linux's setpriv). */
const canRunAsNobody = () => {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "true"], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
};

describe.runIf(testEngine() === "postgres" && canRunAsNobody())(
  "an embedded data folder holding a file the server may not write",
  () => {
    let folder: string;
    beforeAll(() => {
      folder = mkdtempSync(join(tmpdir(), "odyssey-not-writable-"));
      chmodSync(folder, 0o755);
      chownSync(folder, 65534, 65534);
    });
    afterAll(() => rmSync(folder, { recursive: true, force: true }));

    it("stops the server with one line naming the file", async () => {
      const dataDir = join(folder, "data");
      const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
      const made = await startServer({ ODYSSEY_DATA_DIR: dataDir }, { as: nobody });
      await made.stop();
      // As a command run once by another user (root) leaves it.
      chownSync(join(dataDir, "global/pg_control"), 0, 0);
      chmodSync(join(dataDir, "global/pg_control"), 0o600);
      const result = await runMain(
        { ODYSSEY_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" },
        { as: nobody },
      );
      expect(result.code).toBe(1);
      expect(ownLines(result.stderr)).toEqual([
        `odyssey: The embedded database folder ${dataDir} is not writable (EACCES: global/pg_control); make it writable or set ODYSSEY_DATA_DIR`,
      ]);
    });
  },
);

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

  it("names the setting that asked for TLS when the server did not accept it", () => {
    const cut = system("Client network socket disconnected before secure TLS connection was established", {
      code: "ECONNRESET",
    });
    const refusedWith = (query: string, databaseTls: "require" | "verify-full") =>
      describeFailure(cut, { ...where, databaseUrl: `${where.databaseUrl}${query}`, databaseTls });
    expect(refusedWith("?ssl=verify-full", "verify-full")).toBe(
      "cannot connect to Postgres at db.internal:6543: the server did not accept TLS, which ssl=verify-full in DATABASE_URL asks for; enable TLS on the server, or set ssl=disable (or prefer) in DATABASE_URL",
    );
    expect(refusedWith("?sslrootcert=system&sslmode=verify-full", "verify-full")).toBe(
      "cannot connect to Postgres at db.internal:6543: the server did not accept TLS, which sslrootcert=system in DATABASE_URL asks for; enable TLS on the server, or correct DATABASE_URL",
    );
  });

  it("does not blame Postgres for a refused connection when DATABASE_URL is unset", () => {
    const refused = system("connect ECONNREFUSED /data/admin.sock", {
      code: "ECONNREFUSED",
      syscall: "connect",
    });
    expect(describeFailure(refused, { ...where, databaseUrl: undefined })).toBeUndefined();
  });

  it("leaves other errors to their message, on one line, without a failed query's text or parameters", () => {
    const error = new Error(
      'Failed query: insert into "api_keys"\n  values ($1, $2)\nparams: key_1,a1b2c3hash',
      {
        cause: new Error("disk full"),
      },
    );
    expect(describeFailure(error, where)).toBeUndefined();
    expect(messageOf(error)).toBe("a database query failed: disk full");
    expect(messageOf(new Error("Out of memory\nwhile sorting"))).toBe("Out of memory while sorting");
  });

  it("says what a thrown object that is not an Error says, never [object Object]", () => {
    expect(messageOf({ name: "ExitStatus", message: "Program terminated with exit(1)", status: 1 })).toBe(
      "Program terminated with exit(1)",
    );
    expect(messageOf({ status: 1 })).toBe('{"status":1}');
    expect(messageOf("plain text")).toBe("plain text");
  });
});
