import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// Tests that spawn the CLI or the server run the built bundle: build it once before any test
// file starts (vitest runs global setups one after another, so builds never overlap).
export default function buildServer() {
  const root = fileURLToPath(new URL("../../../../", import.meta.url));
  execFileSync(
    process.execPath,
    ["node_modules/turbo/bin/turbo", "run", "build", "--filter=@odyssey/server", "--output-logs=errors-only"],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
  );
}
