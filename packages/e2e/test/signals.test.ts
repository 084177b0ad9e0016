/**
 * Ctrl-C the way a terminal sends it: SIGINT to the whole process group (pnpm, any shell, node),
 * so each process gets it once from the terminal and again relayed by its parent. `pnpm worker`
 * and `pnpm aggregator` must stop cleanly with exit 0: no "second SIGINT", no ELIFECYCLE.
 */
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, jsonLines, repoRoot, startAggregator, tempDir, waitFor } from "./harness";

const groups: number[] = [];
afterAll(() => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Starts `pnpm <script>` as the leader of a new process group, as a terminal's shell would. */
function startGroup(script: string, env: Record<string, string>) {
  const child = spawn("pnpm", [script], {
    cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
  });
  groups.push(child.pid!);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
  return { pgid: child.pid!, output: () => out, exited };
}

describe("Ctrl-C (SIGINT to the process group)", () => {
  it("`pnpm worker` finishes or spools the attempt in flight and exits 0", async () => {
    const aggregator = await startAggregator({ AUDIT_RATE: "1" });
    try {
      const port = await freePort();
      const run = startGroup("worker", {
        WORKER_SK_HEX: "11".repeat(32), AGGREGATOR_URL: `${aggregator.url}/verify`, TOPS_BACKEND: "cpu", AUTOTUNE_DISABLE: "1",
        AUTOTUNE_SIZES: "32,32,32", METRICS_HOST: "127.0.0.1", METRICS_PORT: String(port), SPOOL_DIR: tempDir("sig-spool"), RATE_LIMIT: "5",
      });
      await waitFor("an accepted receipt", async () => jsonLines(run.output()).some((e) => e.event === "accepted"), 60_000);
      process.kill(-run.pgid, "SIGINT");
      const { code, signal } = await run.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      const text = run.output();
      expect(text).not.toMatch(/second SIGINT|ELIFECYCLE|ERR_PNPM/);
      const events = jsonLines(text);
      expect(events.filter((e) => e.event === "signal")).toHaveLength(1);
      expect(events.some((e) => e.event === "stop")).toBe(true);
      // Every receipt signed was delivered or spooled: none was cut off half way.
      const signed = events.filter((e) => e.event === "signed").length;
      const settled = events.filter((e) => e.event === "accepted" || e.event === "spooled" || e.event === "failed").length;
      expect(settled).toBeGreaterThanOrEqual(signed);
    } finally {
      await aggregator.proc.stop();
    }
  });

  it("`pnpm aggregator` exits 0", async () => {
    const port = await freePort();
    const run = startGroup("aggregator", { AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: String(port), DATA_DIR: tempDir("sig-agg"), LOG_LEVEL: "info" });
    await waitFor("the aggregator's health", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000);
    process.kill(-run.pgid, "SIGINT");
    const { code, signal } = await run.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(run.output()).not.toMatch(/ELIFECYCLE|ERR_PNPM/);
    expect(jsonLines(run.output()).some((e) => e.event === "stopped")).toBe(true);
  });
});
