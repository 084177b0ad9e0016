import { defineConfig } from "vitest/config";

// GPU tests load dawn.node (a native addon): run test files in forked processes, one at a
// time, so two Dawn instances never share a process or fight over 2 cores.
export default defineConfig({
  test: {
    pool: "forks",
    poolOptions: { forks: { singleFork: false, execArgv: ["--expose-gc"] } },
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The default output, then every skipped case with its reason (see test/engine/skip-summary.ts).
    reporters: ["default", "./test/engine/skip-summary.ts"],
  },
});
