import { defineConfig } from "vitest/config";

// The whole suite runs twice: on the embedded database (the default) and on a real PostgreSQL
// started by the global setup (DATABASE_URL; each test aggregator gets a database of its own).
export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { name: "embedded", env: { TOPS_TEST_STORE: "embedded" } } },
      { extends: true, test: { name: "postgres", env: { TOPS_TEST_STORE: "postgres" } } },
    ],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/skip-without-postgres.ts"],
  },
});
