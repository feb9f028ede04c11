import { defineConfig } from "vitest/config";

const include = ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"];

// Every test file runs twice: on a real Postgres server and on the embedded PGlite.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ["apps/server/test/support/build-server.ts"],
    projects: [
      { extends: true, test: { name: "postgres", include, env: { ODYSSEY_TEST_DB: "postgres" } } },
      { extends: true, test: { name: "pglite", include, env: { ODYSSEY_TEST_DB: "pglite" } } },
    ],
  },
});
