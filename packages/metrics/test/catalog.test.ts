import { describe, expect, it } from "vitest";
import { catalog, contractMetricKeys, metricName, workerMetricKeys, type MetricKey } from "../src/index";
import { CONTRACT_PATH, contractText, parseContractMetrics } from "./support/contract";

const doc = contractText();
if (doc === null) console.warn(`SKIPPED contract-document comparison: ${CONTRACT_PATH} is absent`);

describe("catalog", () => {
  it("defines the contract's 7 counters, 3 gauges and 2 histograms", () => {
    const byType = (t: string): string[] => contractMetricKeys.filter((k) => catalog[k].type === t).map((k) => catalog[k].name);
    expect(byType("counter")).toHaveLength(7);
    expect(byType("gauge")).toHaveLength(3);
    expect(byType("histogram")).toHaveLength(2);
  });

  it("names every metric once, with valid names and the right prefixes", () => {
    const names = Object.values(catalog).map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of Object.values(catalog)) {
      expect(d.name).toMatch(/^tops_(worker|aggregator)_[a-z0-9_]+$/);
      if (d.type === "counter") expect(d.name).toMatch(/_total$/);
      if (d.type === "histogram") expect(d.buckets?.length).toBeGreaterThan(0);
    }
    for (const k of workerMetricKeys) expect(catalog[k].name.startsWith("tops_worker_")).toBe(true);
    expect(workerMetricKeys).toEqual(expect.arrayContaining(contractMetricKeys));
  });

  it("metricName() gives the base and histogram series names", () => {
    expect(metricName("attemptDurationMs")).toBe("tops_worker_attempt_duration_ms");
    expect(metricName("attemptDurationMs", "bucket")).toBe("tops_worker_attempt_duration_ms_bucket");
    expect(metricName("totalAttempts")).toBe("tops_worker_total_attempts_total");
  });

  it.skipIf(doc === null)(`matches the contract tables in ${CONTRACT_PATH}${doc === null ? " (SKIPPED: file absent)" : ""}`, () => {
    const contract = parseContractMetrics(doc ?? "");
    expect(contract).toHaveLength(12);
    const ours = contractMetricKeys.map((k: MetricKey) => {
      const d = catalog[k];
      return { name: d.name, type: d.type, help: d.help, buckets: d.buckets ? [...d.buckets] : null };
    });
    expect(ours).toEqual(contract.map((c) => ({ ...c, buckets: c.buckets ? [...c.buckets] : null })));
  });
});
