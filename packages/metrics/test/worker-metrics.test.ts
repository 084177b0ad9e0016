import { register as globalRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  catalog, createWorkerMetrics, metricName, PROCESS_METRIC_NAMES, renderRegistry, SPOOL_REFUSAL_REASONS, spoolRefusalReason,
  workerMetricKeys, type WorkerMetrics,
} from "../src/index";
import { parseExposition, sampleValue, type ParsedExposition } from "./support/parse-exposition";

const DID = "did:peaq:UNIT";

function fresh(extra: Partial<Parameters<typeof createWorkerMetrics>[0]> = {}): WorkerMetrics {
  return createWorkerMetrics({ deviceDid: DID, version: "1.2.3", ...extra });
}

async function scrape(m: WorkerMetrics): Promise<ParsedExposition> {
  if (!m.registry) throw new Error("disabled");
  return parseExposition(await renderRegistry(m.registry, "prometheus"), "prometheus");
}

const v = (p: ParsedExposition, key: Parameters<typeof metricName>[0]): number => sampleValue(p, metricName(key));

function bucket(p: ParsedExposition, key: "attemptDurationMs" | "networkLatencyMs", le: string): number {
  return sampleValue(p, metricName(key, "bucket"), { le });
}

describe("worker metrics: counters", () => {
  it("failed = total − successful, and each error counter counts only its own class", async () => {
    const m = fresh();
    const run = (ok: boolean, cls: "gpu" | "network" | "signature" | "validation" = "gpu"): void => {
      m.attemptStarted();
      if (ok) m.attemptSucceeded({ durationMs: 5, ops: 100 });
      else m.attemptFailed({ durationMs: 5, errorClass: cls });
    };
    run(true); run(false, "gpu"); run(false, "gpu"); run(true); run(false, "network");
    run(false, "signature"); run(false, "validation"); run(true);

    const p = await scrape(m);
    expect(v(p, "totalAttempts")).toBe(8);
    expect(v(p, "successfulAttempts")).toBe(3);
    expect(v(p, "failedAttempts")).toBe(v(p, "totalAttempts") - v(p, "successfulAttempts"));
    expect([v(p, "gpuErrors"), v(p, "networkErrors"), v(p, "signatureErrors"), v(p, "validationErrors")]).toEqual([2, 1, 1, 1]);
    expect(v(p, "int8Ops")).toBe(300); // successes only

    const s = m.snapshot();
    expect([s.totalAttempts, s.successfulAttempts, s.failedAttempts]).toEqual([8, 3, 5]);
    expect(s.errors).toEqual({ gpu: 2, network: 1, signature: 1, validation: 1 });
  });

  it("counts an attempt in the totals when it ends, so the invariant holds mid-attempt", async () => {
    const m = fresh();
    m.attemptStarted();
    m.attemptStarted();
    let p = await scrape(m);
    expect(v(p, "attemptsInFlight")).toBe(2);
    expect(v(p, "totalAttempts")).toBe(0);
    m.attemptFailed({ durationMs: 1, errorClass: "network" });
    p = await scrape(m);
    expect(v(p, "attemptsInFlight")).toBe(1);
    expect(v(p, "totalAttempts")).toBe(1);
    expect(v(p, "failedAttempts")).toBe(v(p, "totalAttempts") - v(p, "successfulAttempts"));
  });

  it("adds ops verified outside an attempt (resubmitted receipts) to the int8 ops counter only", async () => {
    const m = fresh();
    m.attemptSucceeded({ durationMs: 5, ops: 1000 });
    m.verifiedOps(500);
    m.verifiedOps(-1);
    const p = await scrape(m);
    expect(v(p, "int8Ops")).toBe(1500);
    expect(v(p, "totalAttempts")).toBe(1);
    expect(m.snapshot().int8Ops).toBe(1500);
  });

  it("counts dropped receipts and reports the queue length", async () => {
    const m = fresh();
    m.setReceiptsQueued(7);
    m.receiptDropped();
    m.receiptDropped();
    const p = await scrape(m);
    expect(v(p, "receiptsQueued")).toBe(7);
    expect(v(p, "receiptsDropped")).toBe(2);
  });
});

describe("worker metrics: gauges", () => {
  it("resets consecutive failures to 0 on a success", async () => {
    const m = fresh();
    const fail = (): void => m.attemptFailed({ durationMs: 1, errorClass: "gpu" });
    fail(); fail(); fail();
    expect(v(await scrape(m), "consecutiveFailures")).toBe(3);
    m.attemptSucceeded({ durationMs: 1, ops: 1 });
    expect(v(await scrape(m), "consecutiveFailures")).toBe(0);
    fail();
    expect(v(await scrape(m), "consecutiveFailures")).toBe(1);
  });

  it("success rate is successful / total × 100 × 100, and 0 before the first attempt", async () => {
    const m = fresh();
    expect(v(await scrape(m), "successRate")).toBe(0);
    for (let i = 0; i < 3; i++) m.attemptSucceeded({ durationMs: 1, ops: 1 });
    m.attemptFailed({ durationMs: 1, errorClass: "validation" });
    const rate = v(await scrape(m), "successRate");
    expect(rate).toBe(7500);
    expect(rate / 100).toBe(75); // the contract's "/ 100 gives percent"
  });

  it("uptime is current at every scrape without any update call", async () => {
    const m = fresh();
    const first = v(await scrape(m), "uptimeSeconds");
    await new Promise((r) => setTimeout(r, 60));
    const second = v(await scrape(m), "uptimeSeconds");
    expect(second - first).toBeGreaterThanOrEqual(0.05);
    expect(second - first).toBeLessThan(5);
  });

  it("last success is a Unix timestamp, 0 before the first success", async () => {
    const m = fresh();
    expect(v(await scrape(m), "lastSuccessTimestamp")).toBe(0);
    m.attemptFailed({ durationMs: 1, errorClass: "gpu" });
    expect(v(await scrape(m), "lastSuccessTimestamp")).toBe(0);
    const before = Date.now() / 1000;
    m.attemptSucceeded({ durationMs: 1, ops: 1 });
    const ts = v(await scrape(m), "lastSuccessTimestamp");
    expect(ts).toBeGreaterThanOrEqual(before - 0.001);
    expect(ts).toBeLessThanOrEqual(Date.now() / 1000);
    expect(m.snapshot().lastSuccessUnixSeconds).toBe(ts);
  });

  it("circuit breaker state is 0 closed, 1 half-open, 2 open", async () => {
    const m = fresh();
    expect(v(await scrape(m), "circuitBreakerState")).toBe(0);
    m.setBreakerState("open");
    expect(v(await scrape(m), "circuitBreakerState")).toBe(2);
    m.setBreakerState("half_open");
    expect(v(await scrape(m), "circuitBreakerState")).toBe(1);
    m.setBreakerState("closed");
    expect(v(await scrape(m), "circuitBreakerState")).toBe(0);
  });

  it("tops_worker_info has one series, value 1, replaced by setInfo()", async () => {
    const m = fresh();
    let info = (await scrape(m)).get(catalog.info.name);
    expect(info?.samples).toHaveLength(1);
    expect(info?.samples[0]?.labels).toMatchObject({ version: "1.2.3", backend: "unknown", adapter: "unknown", kernel_ver: "unknown" });
    m.setInfo({ backend: "webgpu", adapter: "NVIDIA H100", kernelVer: "k7" });
    m.setInfo({ backend: "cpu", adapter: "", kernelVer: "k8" });
    info = (await scrape(m)).get(catalog.info.name);
    expect(info?.samples).toHaveLength(1);
    expect(info?.samples[0]?.value).toBe(1);
    expect(info?.samples[0]?.labels).toMatchObject({ version: "1.2.3", backend: "cpu", adapter: "unknown", kernel_ver: "k8" });
  });
});

describe("worker metrics: histograms", () => {
  it("exposes exactly the catalog's buckets, all present before the first observation", async () => {
    const p = await scrape(fresh());
    for (const key of ["attemptDurationMs", "networkLatencyMs"] as const) {
      const les = p.get(catalog[key].name)?.samples.filter((s) => s.name.endsWith("_bucket")).map((s) => s.labels.le);
      expect(les).toEqual([...(catalog[key].buckets ?? []).map(String), "+Inf"]);
      expect(sampleValue(p, metricName(key, "count"))).toBe(0);
    }
  });

  it("records milliseconds into the right buckets (upper bounds inclusive)", async () => {
    const m = fresh();
    m.attemptSucceeded({ durationMs: 10, ops: 1 });
    m.attemptSucceeded({ durationMs: 10.5, ops: 1 });
    m.attemptFailed({ durationMs: 2500, errorClass: "gpu" });
    m.networkLatency(0.4);
    m.networkLatency(120);
    const p = await scrape(m);
    expect(bucket(p, "attemptDurationMs", "10")).toBe(1);
    expect(bucket(p, "attemptDurationMs", "25")).toBe(2);
    expect(bucket(p, "attemptDurationMs", "2000")).toBe(2);
    expect(bucket(p, "attemptDurationMs", "+Inf")).toBe(3);
    expect(sampleValue(p, metricName("attemptDurationMs", "sum"))).toBe(2520.5);
    expect(bucket(p, "networkLatencyMs", "1")).toBe(1);
    expect(bucket(p, "networkLatencyMs", "100")).toBe(1);
    expect(bucket(p, "networkLatencyMs", "250")).toBe(2);
    const s = m.snapshot();
    expect([s.minDurationMs, s.maxDurationMs]).toEqual([10, 2500]);
    expect(s.avgDurationMs).toBeCloseTo(2520.5 / 3);
  });
});

describe("worker metrics: labels and registry", () => {
  it("registers every tops_worker_* catalog metric with the catalog's type and help", async () => {
    const p = await scrape(fresh());
    for (const key of workerMetricKeys) {
      const d = catalog[key];
      const f = p.get(d.name);
      expect(f, d.name).toBeDefined();
      expect(f?.type).toBe(d.type);
      expect(f?.help).toBe(d.help);
    }
    // Nothing else under the tops_worker_ prefix: the process metrics carry their usual names.
    expect([...p.keys()].filter((name) => name.startsWith("tops_worker_"))).toHaveLength(workerMetricKeys.length);
  });

  it("exports process metrics (CPU, RSS, event-loop lag, start time) under their usual names", async () => {
    const p = await scrape(fresh());
    for (const name of Object.values(PROCESS_METRIC_NAMES)) expect(p.get(name), name).toBeDefined();
    expect(p.get(PROCESS_METRIC_NAMES.cpuSeconds)?.type).toBe("counter");
    expect(sampleValue(p, PROCESS_METRIC_NAMES.residentMemoryBytes)).toBeGreaterThan(1e6);
    // Start time is the process's, in Unix seconds: within the last day and not in the future.
    const start = sampleValue(p, PROCESS_METRIC_NAMES.startTimeSeconds);
    expect(start).toBeLessThanOrEqual(Date.now() / 1000);
    expect(start).toBeGreaterThan(Date.now() / 1000 - 86_400);
    expect(sampleValue(p, PROCESS_METRIC_NAMES.eventLoopLagSeconds)).toBeGreaterThanOrEqual(0);
  });

  it("leaves process metrics out when asked to", async () => {
    const p = await scrape(fresh({ processMetrics: false }));
    expect(p.get(PROCESS_METRIC_NAMES.cpuSeconds)).toBeUndefined();
    expect(p.size).toBe(workerMetricKeys.length);
  });

  it("counts spooled receipts refused on resubmission under a bounded reason, every reason exported from 0", async () => {
    const m = fresh();
    let p = await scrape(m);
    for (const reason of SPOOL_REFUSAL_REASONS) expect(sampleValue(p, metricName("spoolRefused"), { reason })).toBe(0);
    m.spoolReceiptRefused("STALE_EPOCH");
    m.spoolReceiptRefused("STALE_EPOCH");
    m.spoolReceiptRefused("REPLAY");
    m.spoolReceiptRefused("KEY_QUARANTINED");
    m.spoolReceiptRefused("WORK_ROOT_MISMATCH");
    m.spoolReceiptRefused("<script>"); // whatever an aggregator sends, no new label value appears
    p = await scrape(m);
    const by = (reason: string): number => sampleValue(p, metricName("spoolRefused"), { reason });
    expect([by("stale_epoch"), by("replay"), by("key_refused"), by("invalid"), by("other")]).toEqual([2, 1, 1, 1, 1]);
    expect(p.get(metricName("spoolRefused"))?.samples).toHaveLength(SPOOL_REFUSAL_REASONS.length);
    expect(m.snapshot().spoolRefused).toEqual({ stale_epoch: 2, replay: 1, key_refused: 1, invalid: 1, other: 1 });
    expect(catalog.spoolRefused.labelValues?.reason).toEqual(SPOOL_REFUSAL_REASONS);
    expect(spoolRefusalReason("PREV_HASH_MISMATCH")).toBe("stale_epoch");
  });

  it("puts device_did and the static labels on every sample", async () => {
    const p = await scrape(fresh({ staticLabels: { region: "eu", rack: "7" } }));
    for (const f of p.values()) {
      for (const s of f.samples) expect(s.labels).toMatchObject({ device_did: DID, region: "eu", rack: "7" });
    }
  });

  it("refuses bad static label names with a clear error", () => {
    expect(() => fresh({ staticLabels: { "bad-name": "x" } })).toThrow(/bad-name/);
    expect(() => fresh({ staticLabels: { device_did: "x" } })).toThrow(/reserved/);
  });

  it("keeps instances independent and never touches prom-client's global registry", async () => {
    const a = fresh();
    const b = fresh();
    a.attemptSucceeded({ durationMs: 1, ops: 1 });
    expect(v(await scrape(a), "totalAttempts")).toBe(1);
    expect(v(await scrape(b), "totalAttempts")).toBe(0);
    expect(globalRegistry.getMetricsAsArray()).toHaveLength(0);
  });

  it("survives garbage input from untyped callers without throwing", async () => {
    const m = fresh();
    m.attemptSucceeded({ durationMs: NaN, ops: -5 });
    m.attemptSucceeded({ durationMs: -3, ops: Infinity });
    m.attemptFailed({ durationMs: Infinity, errorClass: "bogus" as "gpu" });
    m.networkLatency(NaN);
    m.setReceiptsQueued(NaN);
    m.setBreakerState("exploded" as "open");
    const p = await scrape(m);
    expect(v(p, "totalAttempts")).toBe(3);
    expect(v(p, "failedAttempts")).toBe(1);
    expect(v(p, "int8Ops")).toBe(0);
    expect(v(p, "gpuErrors") + v(p, "networkErrors") + v(p, "signatureErrors") + v(p, "validationErrors")).toBe(0);
    expect(sampleValue(p, metricName("attemptDurationMs", "count"))).toBe(1); // only the clamped −3 → 0
    expect(bucket(p, "attemptDurationMs", "10")).toBe(1);
    expect(sampleValue(p, metricName("networkLatencyMs", "count"))).toBe(0);
    expect(v(p, "circuitBreakerState")).toBe(0);
    expect(v(p, "receiptsQueued")).toBe(0);
  });
});

describe("worker metrics: snapshot and config summary", () => {
  it("redacts secrets from the config summary", () => {
    const m = fresh();
    m.setConfigSummary({
      device_did: DID, aggregator_url: "https://user:pw@agg.example/verify", worker_sk_hex: "ab".repeat(32),
      METRICS_AUTH_TOKEN: "t", api_key: "k", max_retries: 3, debug: false,
    });
    expect(m.snapshot().config).toEqual({
      device_did: DID, aggregator_url: "https://[redacted]@agg.example/verify", worker_sk_hex: "[redacted]",
      METRICS_AUTH_TOKEN: "[redacted]", api_key: "[redacted]", max_retries: 3, debug: false,
    });
  });

  it("tracks engine readiness and health in the snapshot", () => {
    const m = fresh();
    expect(m.snapshot().engineReady).toBe(false);
    m.setEngineReady(true);
    for (let i = 0; i < 10; i++) m.attemptFailed({ durationMs: 1, errorClass: "gpu" });
    const s = m.snapshot();
    expect(s.engineReady).toBe(true);
    expect(s.health.status).toBe("critical");
  });
});

describe("worker metrics: disabled (METRICS_ENABLED=0)", () => {
  it("is a frozen null object: no registry, every update a no-op", () => {
    const m = createWorkerMetrics({ enabled: false, deviceDid: DID, version: "1.2.3" });
    expect(m.enabled).toBe(false);
    expect(m.registry).toBeNull();
    expect(Object.isFrozen(m)).toBe(true);
    const before = m.snapshot();
    m.attemptStarted();
    m.attemptSucceeded({ durationMs: 5, ops: 5 });
    m.attemptFailed({ durationMs: 5, errorClass: "gpu" });
    m.verifiedOps(5);
    m.networkLatency(5);
    m.setBreakerState("open");
    m.setReceiptsQueued(3);
    m.receiptDropped();
    m.spoolReceiptRefused("STALE_EPOCH");
    m.setInfo({ backend: "x", adapter: "y", kernelVer: "z" });
    m.setEngineReady(true);
    m.setConfigSummary({ a: 1 });
    expect(m.snapshot()).toBe(before);
    expect(before).toMatchObject({ enabled: false, totalAttempts: 0, engineReady: false, breakerState: "closed", version: "1.2.3" });
    expect(globalRegistry.getMetricsAsArray()).toHaveLength(0);
  });
});
