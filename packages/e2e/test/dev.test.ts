/**
 * `pnpm dev`, the README's main command: it brings up aggregator, worker and (when installed)
 * Prometheus, prints where they are, makes accepted attempts, and stops everything with exit 0
 * on Ctrl-C. Ctrl-C is sent the way a terminal sends it: SIGINT to the whole foreground process
 * group (pnpm, its shell, the orchestrator and every service), so each process gets it once
 * from the "terminal" and must get no second signal from the orchestrator.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, getText, repoRoot, sampleValue, tempDir, waitFor, type Aggregator } from "./harness";

const hasPrometheus = spawnSync("sh", ["-c", "command -v prometheus"]).status === 0;

interface Session {
  readonly child: ChildProcess;
  /** The process group: the session leader's pid (spawned detached, as a terminal's job). */
  readonly group: number;
  output(): string;
  readonly exited: Promise<number | string>;
}

const sessions: Session[] = [];
let aggregator: Aggregator | undefined;
afterEach(async () => {
  await aggregator?.proc.stop("SIGKILL");
  aggregator = undefined;
  // Whatever a failed test left behind: the whole group, services included.
  for (const s of sessions.splice(0)) {
    try {
      process.kill(-s.group, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** `pnpm <script>` as a terminal job: its own process group, which Ctrl-C signals as a whole. */
function startDev(env: Record<string, string>, script = "dev"): Session {
  const child = spawn("pnpm", [script], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => child.once("exit", (code, signal) => r(code ?? signal ?? "unknown")));
  const session = { child, group: child.pid!, output: () => out, exited };
  sessions.push(session);
  return session;
}

async function ports(): Promise<{ aggregator: number; metrics: number; prometheus: number }> {
  return { aggregator: await freePort(), metrics: await freePort(), prometheus: await freePort() };
}

const baseEnv = (p: Awaited<ReturnType<typeof ports>>, devDir: string): Record<string, string> => ({
  DEV_DIR: devDir, AGGREGATOR_PORT: String(p.aggregator), METRICS_PORT: String(p.metrics), PROMETHEUS_PORT: String(p.prometheus),
  TOPS_BACKEND: "cpu", AUTOTUNE_PRESETS: "32,32,32", RATE_LIMIT: "5",
});

/** Ctrl-C: SIGINT to every process of the group at once. */
const ctrlC = (s: Session): void => {
  process.kill(-s.group, "SIGINT");
};

describe("pnpm dev", () => {
  it("runs the stack, prints URLs that exist, and Ctrl-C (SIGINT to the process group) stops everything with exit 0", async () => {
    const p = await ports();
    const devDir = tempDir("dev");
    const dev = startDev(baseEnv(p, devDir));
    await waitFor("the URLs", async () => dev.output().includes("Ctrl-C stops everything"), 60_000);
    const out = dev.output();
    expect(out).toContain(`http://localhost:${p.aggregator}/challenge`);
    expect(out).toContain(`http://localhost:${p.metrics}/`);
    await waitFor("accepted attempts", async () => sampleValue(await getText(`http://127.0.0.1:${p.metrics}/prometheus`), "tops_worker_successful_attempts_total") >= 2, 60_000);

    if (hasPrometheus) {
      // The printed Prometheus page exists on this Prometheus (Debian's 2.42 has no /alerts).
      const printed = new RegExp(`http://localhost:${p.prometheus}(/\\S*alerts)`).exec(out)?.[1];
      expect(printed).toBeDefined();
      expect((await fetch(`http://127.0.0.1:${p.prometheus}${printed}`)).status).toBe(200);
      // It scrapes itself on PROMETHEUS_PORT, not on 9090.
      const selfUp = await waitFor("Prometheus scraping itself", async () => {
        const body = (await (await fetch(`http://127.0.0.1:${p.prometheus}/api/v1/query?query=${encodeURIComponent('up{job="prometheus"}')}`)).json()) as {
          data: { result: { metric: { instance: string }; value: [number, string] }[] };
        };
        return body.data.result.length > 0 ? body.data.result[0] : undefined;
      }, 30_000);
      expect(selfUp).toMatchObject({ metric: { instance: `127.0.0.1:${p.prometheus}` }, value: [expect.any(Number), "1"] });
    } else {
      expect(out).toContain("prometheus   not found on PATH");
    }

    // The dev key is kept private and never printed.
    const keyFile = join(devDir, "worker.key");
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o077).toBe(0);
    expect(out).not.toContain(readFileSync(keyFile, "utf8").trim());

    ctrlC(dev);
    expect(await dev.exited).toBe(0);
    const final = dev.output();
    const services = hasPrometheus ? ["aggregator", "worker", "prometheus"] : ["aggregator", "worker"];
    for (const name of services) expect(final).toMatch(new RegExp(`\\[${name}\\] exited \\(0\\)`));
    // Each service got the terminal's SIGINT once, and nothing after it.
    expect(final).not.toContain("second SIG");
    expect(final).not.toContain("ELIFECYCLE");
    expect(final).toMatch(/"event":"signal","signal":"SIGINT"/);
    await expect(fetch(`http://127.0.0.1:${p.metrics}/health`)).rejects.toThrow();
  });

  it("prints compact lines and summaries for a person (DEV_LOG_FORMAT=pretty), and stops the services itself on a SIGINT sent only to it", async () => {
    const p = await ports();
    const dev = startDev({ ...baseEnv(p, tempDir("dev-pretty")), DEV_LOG_FORMAT: "pretty", DEV_SUMMARY_SECONDS: "1", DEV_STOP_GRACE_MS: "500" });
    await waitFor("a summary with accepted receipts", async () => /summary +worker: [1-9]\d* accepted/.test(dev.output()), 60_000);
    // The banner comes back once summaries have pushed it up (every 4th summary).
    await waitFor("the banner again", async () => dev.output().split("tops-worker dev stack").length > 2, 15_000);
    const out = dev.output();
    // No raw JSON: one short line per event, `HH:MM:SS service message`.
    expect(out).not.toMatch(/^\[?\w*\]? ?\{"level"/m);
    expect(out).toMatch(/^\d\d:\d\d:\d\d worker +engine: cpu/m);
    expect(out).toMatch(/^\d\d:\d\d:\d\d aggregator +aggregator listening on/m);
    // Per-receipt lines are summed up, not printed one by one.
    expect(out).not.toMatch(/worker +receipt accepted/);

    // SIGINT to the orchestrator only (as `kill -INT <pid>`): the services did not get it, so it
    // signals them itself (once) after its grace period.
    const orchestrator = Number(spawnSync("pgrep", ["-g", String(dev.group), "-f", "scripts/dev.mjs"], { encoding: "utf8" }).stdout.trim().split("\n")[0]);
    expect(orchestrator).toBeGreaterThan(0);
    process.kill(orchestrator, "SIGINT");
    expect(await dev.exited).toBe(0);
    expect(dev.output()).toMatch(/worker +exited \(0\)/);
    expect(dev.output()).not.toContain("second SIG");
  });
  // `pnpm worker` and `pnpm aggregator` under Ctrl-C: signals.test.ts.
});
