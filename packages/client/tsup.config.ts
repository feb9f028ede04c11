import { defineConfig, type Options } from "tsup";

// ESM and CommonJS, each with its own declarations (.d.ts / .d.cts).
//
// The router's types are inlined from @odyssey/api's pre-built declarations
// (`pnpm --filter @odyssey/api build:types`), so the published .d.ts imports nothing from this
// workspace: the declaration build maps @odyssey/api to those files, and @odyssey/db (named
// only by the server-side context type) to an opaque stand-in. npm packages stay external.
const common: Options = {
  entry: ["src/index.ts"],
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
  // The build script empties dist/ once: two configurations cleaning it would race.
  clean: false,
  // Keeps `OdysseyError.name` in stack traces rather than a renamed `_OdysseyError`.
  keepNames: true,
};

export default defineConfig([
  { ...common, format: "esm" },
  // superjson (with copy-anything and is-what) ships as ESM only, which `require` loads only
  // where Node.js has require(esm) (20.19+, 22.12+), and never under Jest: the CommonJS build
  // carries its own copy.
  { ...common, format: "cjs", noExternal: ["superjson", "copy-anything", "is-what"] },
]);
