/**
 * End to end: a real Prometheus (Debian's 2.42) scrapes the exporter at /prometheus, once
 * with OpenMetrics (its default negotiation) and bearer auth, once pinned to the 0.0.4
 * text format with basic auth, and answers every example query of the contract with data.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractText, CONTRACT_PATH, parseContractQueries } from "./support/contract";
import { query, startPrometheus, type RunningPrometheus } from "./support/prometheus";
import { startTestServer, type TestServer } from "./support/server";
import { prometheus, requireTool } from "./support/tools";

/** The contract's "Example Prometheus Queries", kept here so the test runs without shared/. */
const CONTRACT_QUERIES = [
  "tops_worker_success_rate / 100",
  "rate(tops_worker_successful_attempts_total[1m])",
  "rate(tops_worker_gpu_errors_total[5m]) + rate(tops_worker_network_errors_total[5m])",
  "histogram_quantile(0.5, tops_worker_attempt_duration_ms_bucket)",
  "histogram_quantile(0.95, tops_worker_attempt_duration_ms_bucket)",
  "tops_worker_uptime_seconds / 3600",
  "rate(tops_worker_successful_attempts_total[5m]) / rate(tops_worker_total_attempts_total[5m]) * 100",
  "(rate(tops_worker_failed_attempts_total[5m]) / rate(tops_worker_total_attempts_total[5m])) * 100",
  "increase(tops_worker_consecutive_failures[5m])",
  "histogram_quantile(0.95, tops_worker_attempt_duration_ms_bucket) > 1000",
];

const USER = "prometheus";
const PASSWORD = "scrape-pass";
const TOKEN = "scrape-token-0123456789";
const JOBS = ["openmetrics", "text"];

const enabled = requireTool(prometheus);
const doc = contractText();

describe.skipIf(!enabled)("a real Prometheus scraping the exporter", () => {
  let t: TestServer;
  let prom: RunningPrometheus | null = null;
  let load: NodeJS.Timeout | null = null;

  beforeAll(async () => {
    t = await startTestServer({
      METRICS_AUTH_USER: USER, METRICS_AUTH_PASSWORD: PASSWORD, METRICS_AUTH_TOKEN: TOKEN, METRICS_LABELS: "region=eu,rack=7",
    });
    t.metrics.setInfo({ backend: "webgpu", adapter: "Test", kernelVer: "k1" });
    t.metrics.setEngineReady(true);
    // A steady mix of attempts: 1 in 4 slow (1.5 s, so p95 > 1000 ms), 1 in 5 failing.
    let i = 0;
    load = setInterval(() => {
      for (let j = 0; j < 4; j++, i++) {
        t.metrics.attemptStarted();
        const durationMs = i % 4 === 0 ? 1500 : 20 + (i % 7) * 10;
        if (i % 5 === 0) t.metrics.attemptFailed({ durationMs, errorClass: i % 10 === 0 ? "gpu" : "network" });
        else t.metrics.attemptSucceeded({ durationMs, ops: 4_000_000 });
        t.metrics.networkLatency(3 + (i % 30));
      }
    }, 25);
    const target = `127.0.0.1:${t.server.port}`;
    prom = await startPrometheus(`
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: openmetrics
    metrics_path: /prometheus
    authorization: { type: Bearer, credentials: "${TOKEN}" }
    static_configs: [{ targets: ["${target}"] }]
  - job_name: text
    metrics_path: /prometheus
    params: { format: [text] }
    basic_auth: { username: "${USER}", password: "${PASSWORD}" }
    static_configs: [{ targets: ["${target}"] }]
`);
  }, 30_000);

  afterAll(async () => {
    if (load) clearInterval(load);
    await prom?.stop();
    await t?.server.close();
  });

  /** Polls `promql` until it returns a series for every job (rate() needs two scrapes). */
  async function answer(promql: string, timeoutMs = 15_000): Promise<Awaited<ReturnType<typeof query>>> {
    const deadline = Date.now() + timeoutMs;
    let last: Awaited<ReturnType<typeof query>> = [];
    while (Date.now() < deadline) {
      last = await query(prom?.url ?? "", promql);
      if (JOBS.every((job) => last.some((r) => r.metric.job === job && Number.isFinite(r.value)))) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`no data for ${promql} from every job; last result ${JSON.stringify(last)}\nPrometheus log:\n${prom?.log() ?? ""}`);
  }

  it("scrapes both formats successfully, with auth", async () => {
    const up = await answer("up == 1");
    expect(up.map((r) => r.metric.job).sort()).toEqual(JOBS);
    const targets = (await (await fetch(`${prom?.url ?? ""}/api/v1/targets`)).json()) as {
      data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] };
    };
    for (const target of targets.data.activeTargets) expect(target, target.labels.job).toMatchObject({ health: "up", lastError: "" });
    // Proof of the format each job got: OpenMetrics writes le as a canonical float, 0.0.4 as given.
    const om = await query(prom?.url ?? "", 'tops_worker_attempt_duration_ms_bucket{le="1000.0"}');
    const text = await query(prom?.url ?? "", 'tops_worker_attempt_duration_ms_bucket{le="1000"}');
    expect(om.map((r) => r.metric.job)).toEqual(["openmetrics"]);
    expect(text.map((r) => r.metric.job)).toEqual(["text"]);
  }, 20_000);

  it.skipIf(doc === null)(`keeps its query list in step with ${CONTRACT_PATH}${doc === null ? " (SKIPPED: file absent)" : ""}`, () => {
    expect(parseContractQueries(doc ?? "")).toEqual(CONTRACT_QUERIES);
  });

  it("answers every example query of the contract with data", async () => {
    for (const promql of CONTRACT_QUERIES) {
      const result = await answer(promql);
      for (const r of result) expect(Number.isFinite(r.value), `${promql} → ${r.value}`).toBe(true);
    }
    const rate = await answer("tops_worker_success_rate / 100");
    for (const r of rate) expect(r.value).toBeGreaterThan(70); // 80 % succeed
    const p95 = await answer("histogram_quantile(0.95, tops_worker_attempt_duration_ms_bucket)");
    for (const r of p95) expect(r.value).toBeGreaterThan(1000);
    // rate() divides by the whole 1m range while the series is seconds old: only > 0 is certain.
    const throughput = await answer("rate(tops_worker_successful_attempts_total[1m])");
    for (const r of throughput) expect(r.value).toBeGreaterThan(0);
  }, 25_000);

  it("carries device and fleet labels on every series", async () => {
    const info = await answer("tops_worker_info");
    for (const r of info) {
      expect(r.metric).toMatchObject({ device_did: "did:peaq:TEST", region: "eu", rack: "7", backend: "webgpu", version: "9.9.9-test" });
      expect(r.value).toBe(1);
    }
    const ops = await answer("rate(tops_worker_int8_ops_total[1m])");
    for (const r of ops) expect(r.value).toBeGreaterThan(0);
  }, 20_000);
});
