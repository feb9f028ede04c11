import { defineConfig } from "tsup";

// The workspace packages ship TypeScript source; the server bundles them and leaves npm
// dependencies (PGlite's wasm, postgres.js, …) to node_modules.
export default defineConfig({
  entry: { main: "src/main.ts", cli: "src/cli.ts", "pglite-template": "src/pglite-template.ts" },
  format: "esm",
  target: "node20",
  platform: "node",
  noExternal: [/^@odyssey\//],
  sourcemap: true,
  clean: true,
  splitting: true,
});
