/**
 * The Prometheus binaries the integration tests run (Debian package `prometheus`).
 * Locally a missing binary skips those tests with a message; under CI (CI set) it is a
 * failure, so a CI image without the package cannot pass silently.
 */
import { existsSync } from "node:fs";

export interface Tool {
  readonly path: string;
  readonly available: boolean;
  readonly missingMessage: string;
}

function tool(envVar: string, fallback: string): Tool {
  const path = process.env[envVar] ?? fallback;
  return {
    path,
    available: existsSync(path),
    missingMessage: `${path} not found: install the Debian package "prometheus" (apt-get install -y prometheus) or set ${envVar}`,
  };
}

export const promtool = tool("PROMTOOL_BIN", "/usr/bin/promtool");
export const prometheus = tool("PROMETHEUS_BIN", "/usr/bin/prometheus");

/** True when tests needing `t` should run; throws under CI when it is missing. */
export function requireTool(t: Tool): boolean {
  if (t.available) return true;
  if (process.env.CI) throw new Error(t.missingMessage);
  console.warn(`SKIPPED: ${t.missingMessage}`);
  return false;
}

export interface ToolRun {
  readonly code: number | null;
  readonly output: string;
}

/** `promtool check metrics` over `exposition` (stdin). */
export async function promtoolCheckMetrics(exposition: string): Promise<ToolRun> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn(promtool.path, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => { output += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { output += d.toString(); });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end(exposition);
  });
}
