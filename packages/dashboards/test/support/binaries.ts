/**
 * Prometheus's binaries (Debian package `prometheus`, 2.42 in CI and dev containers).
 * PROMTOOL / PROMETHEUS override the paths. Missing binaries fail the tests loudly:
 * silently skipping would let broken rules through.
 */
import { execFileSync } from "node:child_process";

function locate(envName: string, command: string): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`${command} not found: install Debian package \`prometheus\` (apt-get install prometheus) or set ${envName}`);
  }
}

export const promtoolPath = (): string => locate("PROMTOOL", "promtool");
export const prometheusPath = (): string => locate("PROMETHEUS", "prometheus");
