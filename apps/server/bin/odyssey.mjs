#!/usr/bin/env node
// Builds the server app when its sources changed (a cache hit otherwise), then runs the CLI.
// Build output is shown only when the build fails: stdout carries only what the command prints.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const appDir = fileURLToPath(new URL("..", import.meta.url));
const turbo = fileURLToPath(new URL("../../../node_modules/turbo/bin/turbo", import.meta.url));
const build = spawnSync(
  process.execPath,
  [turbo, "run", "build", "--filter=@odyssey/server", "--output-logs=errors-only", "--log-prefix=none"],
  { cwd: appDir, stdio: ["ignore", "pipe", "pipe"] },
);
if (build.status !== 0) {
  process.stderr.write(build.stdout ?? "");
  process.stderr.write(build.stderr ?? "");
  console.error("odyssey: building the server failed (see above)");
  process.exit(build.status ?? 1);
}
const { main } = await import("../dist/cli.js");
// Exit once the command is done (its database closed): an embedded database that failed to open
// can leave handles behind that would keep the process alive. What was printed is flushed first
// (writes to a pipe may be queued).
const code = await main(process.argv.slice(2));
await Promise.all(
  [process.stdout, process.stderr].map((stream) => new Promise((done) => stream.write("", done))),
);
process.exit(code);
