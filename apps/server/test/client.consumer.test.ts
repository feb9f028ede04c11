import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { testEngine } from "@odyssey/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server";

// @odyssey/client as a user gets it: built, packed, installed from its tarball into a fresh
// project outside this workspace, typechecked there, and run against the live server.
// Slow (a build and an npm install), so it runs on one engine only.

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");
const clientDir = join(repoRoot, "packages/client");
const fixtures = join(here, "fixtures/client-consumer");

/** The environment without what pnpm sets for its scripts, so npm acts as it would for a user. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(npm_|pnpm_)/i.test(name)),
) as NodeJS.ProcessEnv;

async function sh(cwd: string, command: string, args: string[], timeout = 120_000) {
  try {
    const { stdout } = await exec(command, args, {
      cwd,
      env: { ...cleanEnv, NO_UPDATE_NOTIFIER: "1", npm_config_update_notifier: "false" },
      timeout,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}\n${stderr ?? ""}`);
  }
}

const report = <T>(stdout: string): T => JSON.parse(stdout.trim().split("\n").at(-1) ?? "null") as T;

describe.runIf(testEngine() === "postgres")("@odyssey/client, installed from its tarball", () => {
  let project: string;
  let server: TestServer;
  let writerKey: string;
  let readerKey: string;

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), "odyssey-client-consumer-"));
    // The client's build depends on the api package's declaration build (turbo.json).
    await sh(repoRoot, "pnpm", [
      "exec",
      "turbo",
      "run",
      "build",
      "--filter=@odyssey/client",
      "--output-logs=errors-only",
    ]);
    await sh(clientDir, "pnpm", ["pack", "--pack-destination", project]);
    const [tarball] = (await readdir(project)).filter((name) => name.endsWith(".tgz"));
    if (!tarball) throw new Error("pnpm pack wrote no tarball");
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "odyssey-client-consumer", private: true, type: "module" }),
    );
    await sh(project, "npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      `./${tarball}`,
      "typescript@5.9",
      // For the `fetch` option's probe with undici (tsconfig.undici.json); Node 20 bundles undici 6.
      "undici@6",
      "@types/node@20",
    ]);
    await cp(fixtures, project, { recursive: true });
    server = await startTestServer();
    writerKey = await server.key("consumer");
    readerKey = await server.key("consumer", ["journeys:read"]);
  }, 150_000);

  afterAll(async () => {
    await server?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("installs with no package of this workspace, and a manifest that names none", async () => {
    const installed = await readdir(join(project, "node_modules/@odyssey"));
    expect(installed).toEqual(["client"]);
    const manifest = JSON.parse(
      await readFile(join(project, "node_modules/@odyssey/client/package.json"), "utf8"),
    ) as Record<string, unknown>;
    expect(manifest).not.toHaveProperty("devDependencies");
    expect(manifest).not.toHaveProperty("scripts");
    expect(JSON.stringify(manifest)).not.toMatch(/workspace:|@odyssey\/(api|db|server)/);
  });

  it("typechecks under NodeNext (ESM and CommonJS) and Bundler resolution, probes included", async () => {
    // Each config is strict with skipLibCheck off; the @ts-expect-error probes fail on `any`.
    // tsconfig.readme-lib.json has the smallest `lib` the README names for that.
    await Promise.all(
      ["tsconfig.nodenext.json", "tsconfig.bundler.json", "tsconfig.readme-lib.json"].map((config) =>
        sh(project, "node", ["node_modules/typescript/bin/tsc", "-p", config]),
      ),
    );
  });

  it("creates, gets, updates, sends events, snapshots, and surfaces 404, 409, 403, 400, 401 and 413 as typed errors", async () => {
    const slug = "small-business-grant";
    const options = { baseUrl: server.url, writerKey, readerKey, slug };
    const result = report<Record<string, unknown>>(
      await sh(project, "node", ["run.mjs", JSON.stringify(options)]),
    );

    expect(result.created).toEqual({
      slug,
      displayName: "Small Business Grant Application",
      stepKeys: ["eligibility"],
    });
    expect(result.fetched).toMatchObject({
      sameId: true,
      createdAtIsDate: true,
      updatedAtIsDate: true,
      stepCreatedAtIsDate: true,
      sessionCount: 0,
    });
    expect(result.events).toEqual({
      accepted: 2,
      duplicates: 0,
      rejectedIndexes: [2],
      concurrentAccepted: Array(8).fill(500),
      sessionStarts: 1,
      hasRecentEvents: true,
    });
    expect(result.snapshot).toEqual({ createdAtIsDate: true, slug });
    // Two snapshots, a page of one at a time.
    expect(result.snapshotPages).toEqual({ sizes: [1, 1], sameSnapshots: true, createdAtIsDate: true });
    // The organization's one journey, as a page of one.
    expect(result.listed).toEqual({ count: 1, hasNextCursor: false });
    expect(result.updated).toEqual({
      displayName: "Renamed",
      environment: "staging",
      updatedAtAdvanced: true,
    });

    const error = (status: number, code: string, message: string | RegExp) => ({
      isOdysseyError: true,
      name: "OdysseyError",
      status,
      code,
      dataCode: code,
      message: typeof message === "string" ? message : expect.stringMatching(message),
    });
    expect(result.notFound).toEqual(
      error(404, "NOT_FOUND", 'Journey with slug "nonexistent-journey" not found'),
    );
    expect(result.conflict).toEqual(
      error(409, "CONFLICT", `Journey with slug "${slug}" already exists in this organization`),
    );
    expect(result.forbidden).toEqual(
      error(403, "FORBIDDEN", "API key does not have required scope: journeys:write"),
    );
    expect(result.invalid).toEqual(
      error(
        400,
        "BAD_REQUEST",
        "Invalid journey data: slug must contain only lowercase letters, numbers, and hyphens",
      ),
    );
    expect(result.unauthorized).toEqual(error(401, "UNAUTHORIZED", /\S/));
    expect(result.tooLarge).toMatchObject({
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      message: expect.stringMatching(/larger than/),
    });
  });

  it("sends the same message text as the REST API for the same failure", async () => {
    const slug = "small-business-grant";
    const options = { baseUrl: server.url, writerKey, readerKey, slug };
    const result = report<Record<string, { message: string }>>(
      await sh(project, "node", ["run.mjs", JSON.stringify({ ...options, slug: "rest-comparison" })]),
    );
    const restError = async (key: string, method: string, path: string, body?: unknown) =>
      ((await (await server.call(key, method, path, body)).json()) as { error: string }).error;

    expect(result.notFound?.message).toBe(
      await restError(writerKey, "GET", "/api/journeys/nonexistent-journey"),
    );
    expect(result.conflict?.message).toBe(
      await restError(writerKey, "POST", "/api/journeys/create", {
        slug: "rest-comparison",
        displayName: "Again",
      }),
    );
    expect(result.forbidden?.message).toBe(
      await restError(readerKey, "POST", "/api/journeys/create", { slug: "another", displayName: "Another" }),
    );
    expect(result.invalid?.message).toBe(
      await restError(writerKey, "POST", "/api/journeys/create", {
        slug: "Not A Slug",
        displayName: "Invalid",
      }),
    );
    expect(result.unauthorized?.message).toBe(
      await restError("ody_sk_unknown", "GET", `/api/journeys/${slug}`),
    );
    const oversized = {
      slug: "big",
      displayName: "Big",
      allowedOrigins: Array(60_000).fill("https://a.example.com"),
    };
    expect(result.tooLarge?.message).toBe(
      await restError(writerKey, "POST", "/api/journeys/create", oversized),
    );
  });

  it("takes undici's fetch as its fetch, in its types and at run time", async () => {
    await sh(project, "node", ["node_modules/typescript/bin/tsc", "-p", "tsconfig.undici.json"]);
    const slug = "via-undici";
    const created = await fetch(`${server.url}/api/journeys/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${writerKey}`, "content-type": "application/json" },
      body: JSON.stringify({ slug, displayName: "Via undici" }),
    });
    expect(created.status).toBe(201);
    const script = `import { slugViaUndici } from "./out/undici-fetch.js";
      console.log(JSON.stringify(await slugViaUndici(...JSON.parse(process.argv[1]))));`;
    const answer = await sh(project, "node", [
      "--input-type=module",
      "-e",
      script,
      JSON.stringify([server.url, readerKey, slug]),
    ]);
    expect(report<string>(answer)).toBe(slug);
  });

  it("works through require() with its CommonJS build, where require() cannot load ES modules too", async () => {
    const options = { baseUrl: server.url, writerKey, slug: "small-business-grant" };
    // As on Node.js 22.0 to 22.11 and under Jest: superjson is an ES module only.
    const result = report<Record<string, unknown>>(
      await sh(project, "node", ["--no-experimental-require-module", "run.cjs", JSON.stringify(options)]),
    );
    expect(result).toEqual({
      slug: "small-business-grant",
      createdAtIsDate: true,
      notFound: {
        isOdysseyError: true,
        className: "OdysseyError",
        status: 404,
        code: "NOT_FOUND",
        message: 'Journey with slug "nonexistent-journey" not found',
      },
    });
  });

  it("passes publint and arethetypeswrong, and ships no server code", async () => {
    const output = await sh(clientDir, "pnpm", ["run", "--silent", "check:package"]);
    expect(output).toMatch(/No problems found/);
  });
});
