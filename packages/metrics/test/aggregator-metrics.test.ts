import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { catalog, createAggregatorMetrics, metricName, PROCESS_METRIC_NAMES, renderRegistry } from "../src/index";
import { parseExposition, sampleValue } from "./support/parse-exposition";

describe("createAggregatorMetrics", () => {
  it("creates the catalog's tops_aggregator_* metrics on the given registry", async () => {
    const registry = new Registry();
    const m = createAggregatorMetrics(registry, { processMetrics: false });
    m.receipts.inc({ outcome: "accepted", code: "ok" });
    m.receipts.inc({ outcome: "rejected", code: "bad_signature" }, 2);
    m.verifyDurationMs.observe(3);
    m.audits.inc({ result: "match" });
    m.storedReceipts.set(41);
    m.verifiedOps.inc(2 * 64 * 64 * 64);
    m.quarantinedKeys.set(2);

    const p = parseExposition(await renderRegistry(registry, "prometheus"), "prometheus");
    const aggregatorKeys = (Object.keys(catalog) as (keyof typeof catalog)[]).filter((k) => catalog[k].name.startsWith("tops_aggregator_"));
    expect([...p.keys()].sort()).toEqual(aggregatorKeys.map((k) => catalog[k].name).sort());
    for (const k of aggregatorKeys) {
      expect(p.get(catalog[k].name)?.type).toBe(catalog[k].type);
      expect(p.get(catalog[k].name)?.help).toBe(catalog[k].help);
    }
    expect(sampleValue(p, metricName("aggregatorReceipts"), { outcome: "rejected", code: "bad_signature" })).toBe(2);
    expect(sampleValue(p, metricName("aggregatorVerifyDurationMs", "bucket"), { le: "5" })).toBe(1);
    expect(sampleValue(p, metricName("aggregatorAudits"), { result: "match" })).toBe(1);
    expect(sampleValue(p, metricName("aggregatorStoredReceipts"))).toBe(41);
    expect(sampleValue(p, metricName("aggregatorVerifiedOps"))).toBe(2 * 64 * 64 * 64);
    expect(sampleValue(p, metricName("aggregatorQuarantinedKeys"))).toBe(2);
  });

  it("adds process metrics (CPU, RSS, event-loop lag, start time) by default", async () => {
    const registry = new Registry();
    createAggregatorMetrics(registry);
    const p = parseExposition(await renderRegistry(registry, "prometheus"), "prometheus");
    for (const name of Object.values(PROCESS_METRIC_NAMES)) expect(p.get(name), name).toBeDefined();
    expect(sampleValue(p, PROCESS_METRIC_NAMES.residentMemoryBytes)).toBeGreaterThan(1e6);
  });

  it("refuses to register twice on one registry", () => {
    const registry = new Registry();
    createAggregatorMetrics(registry);
    expect(() => createAggregatorMetrics(registry)).toThrow(/already been registered/);
  });
});
