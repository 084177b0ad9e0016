import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  acceptsGzip, catalog, createNameFilter, createWorkerMetrics, metricName, negotiateFormat, renderRegistry, workerMetricKeys,
} from "../src/index";
import { parseExposition, sampleValue } from "./support/parse-exposition";

/** What Prometheus 2.x sends when it scrapes. */
const PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

describe("negotiateFormat", () => {
  it.each([
    [undefined, "prometheus"],
    ["", "prometheus"],
    ["*/*", "prometheus"],
    ["text/plain", "prometheus"],
    ["text/plain;version=0.0.4", "prometheus"],
    [PROMETHEUS_ACCEPT, "openmetrics"],
    ["application/openmetrics-text", "openmetrics"],
    ["application/openmetrics-text; version=1.0.0; charset=utf-8", "openmetrics"],
    ["application/openmetrics-text;q=0.3,text/plain;q=0.5", "prometheus"],
    ["application/openmetrics-text;q=0.5,text/plain;q=0.5", "prometheus"],
    ["application/openmetrics-text;q=0.9,*/*;q=0.5", "openmetrics"],
    ["text/*;q=0.2, application/*", "openmetrics"],
    ["application/json", "prometheus"],
  ] as const)("%j → %s", (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });
});

describe("acceptsGzip", () => {
  it.each([
    [undefined, false], ["identity", false], ["gzip", true], ["deflate, gzip;q=0.5", true], ["gzip;q=0", false],
    ["*", true], ["*;q=0", false], ["gzip;q=0, *", false], ["br, x-gzip", true], ["GZIP", true],
  ] as const)("%j → %s", (header, ok) => {
    expect(acceptsGzip(header)).toBe(ok);
  });
});

describe("createNameFilter", () => {
  it("includes by glob, and exclusion wins", () => {
    const f = createNameFilter(["tops_worker_*"], ["*_info", "tops_worker_?ptime_seconds"]);
    expect(f("tops_worker_total_attempts_total")).toBe(true);
    expect(f("tops_worker_info")).toBe(false);
    expect(f("tops_worker_uptime_seconds")).toBe(false);
    expect(f("tops_aggregator_audits_total")).toBe(false);
    expect(createNameFilter([], ["tops_worker_*_ms"])("tops_worker_attempt_duration_ms")).toBe(false);
    expect(createNameFilter([], [])("anything")).toBe(true);
  });

  it("refuses globs outside the metric-name alphabet", () => {
    expect(() => createNameFilter(["a.*"], [])).toThrow(/a\.\*/);
  });
});

async function populatedWorker(): Promise<Registry> {
  const m = createWorkerMetrics({ deviceDid: "did:peaq:X", version: "1.0.0", staticLabels: { note: 'quote " back \\ slash' } });
  m.attemptSucceeded({ durationMs: 12, ops: 1000 });
  m.attemptFailed({ durationMs: 700, errorClass: "network" });
  m.networkLatency(7);
  m.setInfo({ backend: "webgpu", adapter: "line\nbreak", kernelVer: "k1" });
  if (!m.registry) throw new Error("disabled");
  return m.registry;
}

describe("renderRegistry", () => {
  it("renders OpenMetrics 1.0 with the same data as the 0.0.4 text", async () => {
    const registry = await populatedWorker();
    const text = parseExposition(await renderRegistry(registry, "prometheus"), "prometheus");
    const omText = await renderRegistry(registry, "openmetrics");
    const om = parseExposition(omText, "openmetrics");
    expect(omText.endsWith("# EOF\n")).toBe(true);

    for (const key of workerMetricKeys) {
      const d = catalog[key];
      const family = d.type === "counter" ? d.name.replace(/_total$/, "") : d.name;
      expect(om.get(family)?.type, family).toBe(d.type);
      expect(om.get(family)?.help).toBe(d.help);
    }
    // Counters keep their _total sample; le values are canonical floats in OpenMetrics.
    expect(sampleValue(om, "tops_worker_failed_attempts_total")).toBe(sampleValue(text, metricName("failedAttempts")));
    expect(sampleValue(om, metricName("attemptDurationMs", "bucket"), { le: "1000.0" })).toBe(2);
    expect(sampleValue(text, metricName("attemptDurationMs", "bucket"), { le: "1000" })).toBe(2);
    // Escaping round-trips through both formats.
    const info = om.get("tops_worker_info")?.samples[0]?.labels;
    expect(info).toMatchObject({ adapter: "line\nbreak", note: 'quote " back \\ slash' });
    expect(text.get("tops_worker_info")?.samples[0]?.labels).toMatchObject({ adapter: "line\nbreak", note: 'quote " back \\ slash' });
  });

  it("does not rename counters for later 0.0.4 scrapes (prom-client's OpenMetrics mode would)", async () => {
    const registry = new Registry();
    new Counter({ name: "x_total", help: "h", registers: [registry] }).inc();
    await renderRegistry(registry, "openmetrics");
    expect(await renderRegistry(registry, "prometheus")).toContain("\nx_total 1\n");
  });

  it("applies the name filter to both formats", async () => {
    const registry = await populatedWorker();
    const filter = createNameFilter(["tops_worker_*_total"], ["tops_worker_gpu_*"]);
    const text = parseExposition(await renderRegistry(registry, "prometheus", filter), "prometheus");
    const om = parseExposition(await renderRegistry(registry, "openmetrics", filter), "openmetrics");
    const counters = workerMetricKeys.map((k) => catalog[k]).filter((d) => d.name.endsWith("_total") && !d.name.startsWith("tops_worker_gpu_"));
    expect([...text.keys()].sort()).toEqual(counters.map((d) => d.name).sort());
    expect([...om.keys()].sort()).toEqual(counters.map((d) => d.name.replace(/_total$/, "")).sort());
  });

  it("renders an empty registry as valid output", async () => {
    expect(await renderRegistry(new Registry(), "prometheus")).toBe("");
    expect(await renderRegistry(new Registry(), "openmetrics")).toBe("# EOF\n");
  });
});
