import { defineConfig } from "tsup";

// ESM and CommonJS, each with its own declarations (.d.ts / .d.cts).
//
// The router's types are inlined from @odyssey/api's pre-built declarations
// (`pnpm --filter @odyssey/api build:types`), so the published .d.ts imports nothing from this
// workspace: the declaration build maps @odyssey/api to those files, and @odyssey/db (named
// only by the server-side context type) to an opaque stand-in. npm packages stay external.
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  target: "es2022",
  platform: "neutral",
  dts: {
    compilerOptions: {
      paths: {
        "@odyssey/api": ["../api/dist/index.d.ts"],
        "@odyssey/db": ["./dts/server-only.d.ts"],
      },
    },
  },
  sourcemap: true,
  clean: true,
  treeshake: true,
});
