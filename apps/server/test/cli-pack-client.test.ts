import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { testEngine } from "@odyssey/db/testing";
import { afterAll, describe, expect, it } from "vitest";

// `pnpm pack` of @odyssey/client in a fresh checkout, where nothing has been built: the tarball
// still holds the code, built by the package's prepack script, and the files it names.
// Slow (an install and a build), so it runs on one engine only.

const exec = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The environment without what pnpm sets for its scripts, as in a user's shell. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(npm_|pnpm_)/i.test(name)),
) as NodeJS.ProcessEnv;

async function sh(cwd: string, command: string, args: string[]) {
  try {
    const { stdout } = await exec(command, args, {
      cwd,
      env: cleanEnv,
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}\n${stderr ?? ""}`);
  }
}

describe.runIf(testEngine() === "postgres")("pnpm pack of @odyssey/client in a fresh checkout", () => {
  let checkout: string | undefined;
  afterAll(async () => {
    if (checkout) await rm(checkout, { recursive: true, force: true });
  });

  it("builds the package first, so the tarball holds dist/ and the changelog", async () => {
    checkout = await mkdtemp(join(tmpdir(), "odyssey-fresh-checkout-"));
    // The repository's files as a clone has them: no node_modules, no dist/, no turbo cache.
    const files = (
      await sh(repoRoot, "git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    )
      .split("\0")
      .filter((file) => file !== "" && existsSync(join(repoRoot, file)));
    for (const file of files) {
      await mkdir(dirname(join(checkout, file)), { recursive: true });
      await cp(join(repoRoot, file), join(checkout, file));
    }
    const client = join(checkout, "packages/client");
    expect(existsSync(join(client, "dist"))).toBe(false);
    await sh(checkout, "pnpm", ["install", "--offline", "--frozen-lockfile"]);

    await sh(client, "pnpm", ["pack", "--pack-destination", checkout]);
    const [tarball] = (await readdir(checkout)).filter((name) => name.endsWith(".tgz"));
    expect(tarball).toBeDefined();
    const contents = (await sh(checkout, "tar", ["tzf", tarball ?? ""])).trim().split("\n").sort();
    expect(contents).toEqual(
      expect.arrayContaining([
        "package/CHANGELOG.md",
        "package/README.md",
        "package/dist/index.cjs",
        "package/dist/index.d.cts",
        "package/dist/index.d.ts",
        "package/dist/index.js",
        "package/package.json",
      ]),
    );
  }, 300_000);
});
