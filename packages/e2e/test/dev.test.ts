/**
 * `pnpm dev`, the README's main command: it brings up aggregator, worker and (when installed)
 * Prometheus, prints where they are, makes accepted attempts, and stops everything on Ctrl-C.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, getText, repoRoot, sampleValue, startProcess, tempDir, waitFor, type Proc } from "./harness";

let dev: Proc | undefined;
afterAll(async () => {
  await dev?.stop("SIGKILL");
});

describe("pnpm dev", () => {
  it("runs the stack, prints its URLs and stops cleanly on SIGINT", async () => {
    const [aggregator, metrics, prometheus] = [await freePort(), await freePort(), await freePort()];
    const devDir = tempDir("dev");
    dev = startProcess(process.execPath, [join(repoRoot, "scripts/dev.mjs")], {
      DEV_DIR: devDir, AGGREGATOR_PORT: String(aggregator), METRICS_PORT: String(metrics), PROMETHEUS_PORT: String(prometheus),
      TOPS_BACKEND: "cpu", AUTOTUNE_PRESETS: "32,32,32", RATE_LIMIT: "5",
    });
    await waitFor("the URLs", async () => dev!.output().includes("Ctrl-C stops everything"), 60_000);
    expect(dev.output()).toContain(`http://localhost:${aggregator}/challenge`);
    expect(dev.output()).toContain(`http://localhost:${metrics}/`);
    expect(dev.output()).toContain(`http://localhost:${prometheus}/`);
    await waitFor("accepted attempts", async () => sampleValue(await getText(`http://127.0.0.1:${metrics}/prometheus`), "tops_worker_successful_attempts_total") >= 2, 60_000);
    await waitFor("Prometheus up", async () => (await fetch(`http://127.0.0.1:${prometheus}/-/ready`)).ok, 30_000);
    // The dev key is kept private and never printed.
    const keyFile = join(devDir, "worker.key");
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o077).toBe(0);
    expect(dev.output()).not.toContain(readFileSync(keyFile, "utf8").trim());

    dev.child.kill("SIGINT");
    expect(await dev.exited).toBe(0);
    const out = dev.output();
    for (const name of ["aggregator", "worker", "prometheus"]) expect(out).toMatch(new RegExp(`\\[${name}\\] exited \\(0\\)`));
    await expect(fetch(`http://127.0.0.1:${metrics}/health`)).rejects.toThrow();
  });
});
