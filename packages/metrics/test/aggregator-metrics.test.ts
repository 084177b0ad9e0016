import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { catalog, createAggregatorMetrics, metricName, renderRegistry } from "../src/index";
import { parseExposition, sampleValue } from "./support/parse-exposition";

describe("createAggregatorMetrics", () => {
  it("creates the catalog's tops_aggregator_* metrics on the given registry", async () => {
    const registry = new Registry();
    const m = createAggregatorMetrics(registry);
    m.receipts.inc({ outcome: "accepted", code: "ok" });
    m.receipts.inc({ outcome: "rejected", code: "bad_signature" }, 2);
    m.verifyDurationMs.observe(3);
    m.audits.inc({ result: "match" });

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
  });

  it("refuses to register twice on one registry", () => {
    const registry = new Registry();
    createAggregatorMetrics(registry);
    expect(() => createAggregatorMetrics(registry)).toThrow(/already been registered/);
  });
});
