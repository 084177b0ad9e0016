/** The CLI as operators run it: one line for a bad variable, a JSON "listening" line with the bound port, clean SIGTERM. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "./support";

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));

function run(env: Record<string, string>, onStdout?: (text: string, kill: () => void) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(tsx, [cli], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, () => child.kill("SIGTERM"));
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("cli", () => {
  it("refuses a bad value with exit code 2 and one line naming the variable", async () => {
    const { code, stderr, stdout } = await run({ DATA_DIR: tempDir(), AUDIT_RATE: "often" });
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim().split("\n")).toEqual(['tops-aggregator: invalid configuration: AUDIT_RATE: must be a number in [0, 1], got "often"']);
  });

  it("a DATA_DIR that cannot be created, or an AUDIT_RATE that underflows: one line, exit 2, at once", async () => {
    const dir = await run({ DATA_DIR: "/proc/self/nodir", AGGREGATOR_PORT: "0" });
    expect(dir.code).toBe(2);
    expect(dir.stderr.trim().split("\n")).toEqual(["tops-aggregator: invalid configuration: DATA_DIR: cannot create /proc/self/nodir: ENOENT on /proc/self/nodir"]);
    const rate = await run({ DATA_DIR: tempDir(), AUDIT_RATE: "1e-400" });
    expect(rate.code).toBe(2);
    expect(rate.stderr).toMatch(/AUDIT_RATE: "1e-400" is too small to represent/);
  });

  it("prints the bound port for AGGREGATOR_PORT=0, serves, and exits 0 on SIGTERM", async () => {
    let served = false;
    let asked = false;
    const { code, stdout } = await run({ DATA_DIR: tempDir(), AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: "0", AUDIT_THREADS: "0" }, (text, kill) => {
      const m = /"event":"listening","url":"(http:\/\/127\.0\.0\.1:(\d+))"/.exec(text);
      if (!m || asked) return;
      asked = true;
      expect(Number(m[2])).toBeGreaterThan(0);
      void fetch(`${m[1]}/healthz`).then((res) => {
        served = res.status === 200;
        kill();
      });
    });
    expect(served).toBe(true);
    expect(code).toBe(0);
    const events = stdout.trim().split("\n").map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events).toEqual(expect.arrayContaining(["dev_mode", "listening", "stopping", "stopped"]));
  }, 20_000);
});
