import { defineConfig } from "vitest/config";

// Each file starts its own processes on free ports; run files one at a time so two
// stacks never compete for the machine's two cores.
export default defineConfig({
  test: { fileParallelism: false, testTimeout: 120_000, hookTimeout: 60_000 },
});
