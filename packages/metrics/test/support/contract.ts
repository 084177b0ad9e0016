/**
 * The metrics contract document, read from the shared spec next to the repository
 * (`<repo root>/../shared/spec/PROMETHEUS_METRICS.md`). Tests that compare against it
 * skip, saying why, when the file is absent (e.g. a clone without shared/).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, "../../../..");
export const CONTRACT_PATH = resolve(REPO_ROOT, "../shared/spec/PROMETHEUS_METRICS.md");

export interface ContractMetric {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly help: string;
  readonly buckets: readonly number[] | null;
}

export function contractText(): string | null {
  return existsSync(CONTRACT_PATH) ? readFileSync(CONTRACT_PATH, "utf8") : null;
}

/** Rows of the Counters / Gauges / Histograms tables under "## Available Metrics". */
export function parseContractMetrics(md: string): ContractMetric[] {
  const section = md.split(/^## /m).find((s) => s.startsWith("Available Metrics"));
  if (!section) throw new Error("contract has no '## Available Metrics' section");
  const out: ContractMetric[] = [];
  for (const line of section.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    const name = /^`([a-z_:][a-z0-9_:]*)`$/i.exec(cells[0] ?? "")?.[1];
    if (!name) continue; // header, separator or prose
    const type = (cells[1] ?? "").toLowerCase();
    if (type !== "counter" && type !== "gauge" && type !== "histogram") throw new Error(`unknown type in row: ${line}`);
    const buckets = cells[3] ? cells[3].split(",").map((b) => Number(b.trim())) : null;
    out.push({ name, type, help: cells[2] ?? "", buckets });
  }
  return out;
}

/** The PromQL queries (non-comment lines) of the "## Example Prometheus Queries" code blocks. */
export function parseContractQueries(md: string): string[] {
  const section = md.split(/^## /m).find((s) => s.startsWith("Example Prometheus Queries"));
  if (!section) throw new Error("contract has no '## Example Prometheus Queries' section");
  const blocks = [...section.matchAll(/```promql\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
  return blocks.flatMap((b) => b.split("\n")).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}
