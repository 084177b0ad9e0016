/**
 * The generated files, rendered in memory. generate.ts writes them; `--check` and
 * test/generate.test.ts compare them with what is committed.
 */
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { composeConfig } from "./config";
import { buildAggregatorDashboard, buildDashboard } from "./dashboard";
import { podMonitors, prometheusRule } from "./k8s";
import { aggregatorRuleGroups, workerRuleGroups } from "./rules";
import { renderRuleFile, renderYaml, renderYamlStream } from "./yaml";

/** The monorepo root (outputs live at the root so operators find them without the package). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export const outputPaths = {
  dashboard: join(repoRoot, "dashboards", "tops-worker.json"),
  aggregatorDashboard: join(repoRoot, "dashboards", "tops-aggregator.json"),
  /** The worker's recording rules and alerts: all that a worker-only scrape config needs. */
  workerRules: join(repoRoot, "alerts", "tops-worker.rules.yml"),
  /** The aggregator's alerts: load it only where the aggregator is scraped. */
  aggregatorRules: join(repoRoot, "alerts", "tops-aggregator.rules.yml"),
  k8sMonitors: join(repoRoot, "deploy", "k8s", "monitors.yaml"),
  k8sRules: join(repoRoot, "deploy", "k8s", "prometheus-rule.yaml"),
} as const;

export interface RenderedFile {
  readonly path: string;
  readonly content: string;
}

export function renderDashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

export function renderAggregatorDashboardJson(): string {
  return `${JSON.stringify(buildAggregatorDashboard(), null, 2)}\n`;
}

export function renderOutputs(): RenderedFile[] {
  return [
    { path: outputPaths.dashboard, content: renderDashboardJson() },
    { path: outputPaths.aggregatorDashboard, content: renderAggregatorDashboardJson() },
    { path: outputPaths.workerRules, content: renderRuleFile({ groups: workerRuleGroups(composeConfig) }) },
    { path: outputPaths.aggregatorRules, content: renderRuleFile({ groups: aggregatorRuleGroups(composeConfig) }) },
    { path: outputPaths.k8sMonitors, content: renderYamlStream(podMonitors()) },
    { path: outputPaths.k8sRules, content: renderYaml(prometheusRule()) },
  ];
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Paths (relative to the repo root) whose content on disk differs from a fresh generation. */
export async function staleOutputs(files: readonly RenderedFile[] = renderOutputs()): Promise<string[]> {
  const stale: string[] = [];
  for (const file of files) {
    if ((await readIfExists(file.path)) !== file.content) stale.push(relative(repoRoot, file.path));
  }
  return stale;
}

/** Writes every output; returns the paths (relative to the repo root) that changed. */
export async function writeOutputs(files: readonly RenderedFile[] = renderOutputs()): Promise<string[]> {
  const changed = await staleOutputs(files);
  for (const file of files) {
    if (!changed.includes(relative(repoRoot, file.path))) continue;
    await mkdir(dirname(file.path), { recursive: true });
    await writeFile(file.path, file.content);
  }
  return changed;
}
