import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // promtool and the Prometheus end-to-end test start real processes.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
