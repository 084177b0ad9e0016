/**
 * End to end: a real Prometheus (started here, scrape_interval 1s) scrapes a worker and
 * loads the generated rules; every dashboard query, with Grafana's variables substituted,
 * returns data, every rule evaluates cleanly, and killing the worker trips WorkerDown.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputPaths, scrapeJobs } from "../src";
import { prometheusPath } from "./support/binaries";
import { generatedAggregatorDashboard, generatedDashboard, interpolate, panelQueries, type PanelQuery } from "./support/grafana";
import { freePort, httpOk, spawnLogged, waitFor, type Spawned } from "./support/processes";

const packageDir = join(import.meta.dirname, "..");

interface ScrapeTarget {
  /** host:port Prometheus scrapes. */
  readonly address: string;
  readonly metricsPath: string;
  /** The aggregator's host:port (metrics at /metrics). */
  readonly aggregatorAddress: string;
  readonly stop: () => Promise<void>;
}

const repoRoot = join(packageDir, "..", "..");

/**
 * The worker Prometheus scrapes: the real `tops-worker` (CPU backend, small sizes) submitting
 * to a real aggregator, so every series — successes, latency, last success — carries data.
 */
async function startScrapeTarget(): Promise<ScrapeTarget> {
  const [aggregatorPort, metricsPort] = [await freePort(), await freePort()];
  const dataDir = await mkdtemp(join(tmpdir(), "dashboards-e2e-agg-"));
  const aggregator = spawnLogged(process.execPath, ["--import", "tsx", join(repoRoot, "packages/aggregator/src/cli.ts")], {
    cwd: repoRoot,
    env: { ...process.env, AGGREGATOR_HOST: "127.0.0.1", AGGREGATOR_PORT: String(aggregatorPort), DATA_DIR: dataDir, LOG_LEVEL: "warn" },
  });
  await waitFor("the aggregator", () => httpOk(`http://127.0.0.1:${aggregatorPort}/healthz`), 20_000, aggregator);
  const worker = spawnLogged(process.execPath, ["--import", "tsx", join(repoRoot, "packages/worker/src/cli.ts")], {
    cwd: repoRoot,
    env: {
      ...process.env, WORKER_SK_HEX: randomBytes(32).toString("hex"), AGGREGATOR_URL: `http://127.0.0.1:${aggregatorPort}/verify`,
      METRICS_HOST: "127.0.0.1", METRICS_PORT: String(metricsPort), TOPS_BACKEND: "cpu", AUTOTUNE_DISABLE: "1",
      AUTOTUNE_SIZES: "32,32,32", RATE_LIMIT: "5", SPOOL_DIR: join(dataDir, "spool"), LOG_LEVEL: "warn",
    },
  });
  const address = `127.0.0.1:${metricsPort}`;
  await waitFor("the worker's metrics", () => httpOk(`http://${address}/prometheus`), 20_000, worker);
  return {
    address,
    metricsPath: "/prometheus",
    aggregatorAddress: `127.0.0.1:${aggregatorPort}`,
    stop: async () => {
      await worker.stop();
      await aggregator.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** With a 1s scrape interval Grafana's $__rate_interval is max(4 x 1s, $__interval + 1s) = 4s. */
const grafanaDurations = { rateInterval: "4s", range: "5m", interval: "1s" };

interface PromResponse {
  readonly status: string;
  readonly error?: string;
  readonly data: { readonly result: readonly unknown[] };
}

let target: ScrapeTarget;
let prometheus: Spawned;
let prometheusUrl: string;
let workDir: string;

async function api(path: string, params: Record<string, string>): Promise<PromResponse> {
  const response = await fetch(`${prometheusUrl}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as PromResponse;
}

beforeAll(async () => {
  target = await startScrapeTarget();
  workDir = await mkdtemp(join(tmpdir(), "dashboards-e2e-"));
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const configPath = join(workDir, "prometheus.yml");
  await writeFile(configPath, stringify({
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    rule_files: [outputPaths.workerRules, outputPaths.aggregatorRules],
    scrape_configs: [
      { job_name: scrapeJobs.worker, metrics_path: target.metricsPath, static_configs: [{ targets: [target.address] }] },
      { job_name: scrapeJobs.aggregator, metrics_path: "/metrics", static_configs: [{ targets: [target.aggregatorAddress] }] },
    ],
  }));
  prometheus = spawnLogged(prometheusPath(), [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(workDir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  await waitFor("Prometheus to be ready", () => httpOk(`${prometheusUrl}/-/ready`), 20_000, prometheus);
});

afterAll(async () => {
  await Promise.allSettled([prometheus?.stop(), target?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});


async function expectEveryQueryReturnsData(queries: readonly PanelQuery[]): Promise<void> {
  {
    const prepared = queries.map((q) => ({ ...q, promql: interpolate(q.expr, grafanaDurations) }));
    const lastProblem = new Map<string, string>();
    const pending = new Set(prepared);
    // Rates need two samples in their window and recording rules one evaluation after that.
    await waitFor("every panel query to return data", async () => {
      for (const query of [...pending]) {
        const now = Date.now() / 1000;
        const response = query.instant
          ? await api("/api/v1/query", { query: query.promql })
          : await api("/api/v1/query_range", { query: query.promql, start: String(now - 30), end: String(now), step: "1" });
        if (response.status === "success" && response.data.result.length > 0) pending.delete(query);
        else lastProblem.set(`${query.panel} ${query.refId}: ${query.promql}`, response.error ?? "no data");
      }
      return pending.size === 0 ? true : undefined;
    }, 25_000).catch(() => undefined);
    const failing = [...pending].map((q) => `${q.panel} ${q.refId}: ${q.promql} -> ${lastProblem.get(`${q.panel} ${q.refId}: ${q.promql}`)}`);
    expect(failing).toEqual([]);
  }
}

describe("dashboard and rules against a real Prometheus", () => {
  it("returns data for every panel query of the worker dashboard", async () => {
    await expectEveryQueryReturnsData(panelQueries(generatedDashboard()));
  }, 40_000);

  it("returns data for every panel query of the aggregator dashboard", async () => {
    await expectEveryQueryReturnsData(panelQueries(generatedAggregatorDashboard()));
  }, 40_000);

  it("evaluates every generated rule without error", async () => {
    interface RulesResponse {
      readonly data: { readonly groups: readonly { readonly name: string; readonly rules: readonly { readonly name: string; readonly health: string; readonly lastError?: string }[] }[] };
    }
    const rules = await waitFor("every rule to be evaluated", async () => {
      const response = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as RulesResponse;
      const all = response.data.groups.flatMap((group) => group.rules.map((rule) => ({ group: group.name, ...rule })));
      return all.length > 0 && all.every((rule) => rule.health !== "unknown") ? all : undefined;
    }, 15_000);
    expect(rules.filter((rule) => rule.health !== "ok")).toEqual([]);
  });

  it("puts WorkerDown in pending once the worker is killed", async () => {
    await target.stop();
    const alert = await waitFor("WorkerDown to go pending", async () => {
      const response = await api("/api/v1/query", { query: 'ALERTS{alertname="WorkerDown"}' });
      return response.data.result.length > 0 ? response.data.result[0] : undefined;
    }, 15_000);
    expect(alert).toMatchObject({ metric: { alertstate: "pending", job: scrapeJobs.worker, instance: target.address } });
  }, 20_000);
});
