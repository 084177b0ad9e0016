import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Real databases and child processes on a 2-core machine: one file at a time.
    fileParallelism: false,
  },
});
