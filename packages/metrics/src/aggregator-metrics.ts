/**
 * The aggregator's tops_aggregator_* metrics, created from the catalog on a registry the
 * aggregator owns (it serves them on its own GET /metrics; see renderRegistry()).
 */
import type { Counter, Histogram, Registry } from "prom-client";
import { catalog } from "./catalog";
import { counterFrom, histogramFrom } from "./factory";

type LabelsOf<K extends keyof typeof catalog> = (typeof catalog)[K]["labels"][number];

export interface AggregatorMetrics {
  /** inc({ outcome, code }) once per receipt received. */
  readonly receipts: Counter<LabelsOf<"aggregatorReceipts">>;
  /** observe(ms) once per receipt verified. */
  readonly verifyDurationMs: Histogram<LabelsOf<"aggregatorVerifyDurationMs">>;
  /** inc({ result }) once per audit (re-computation). */
  readonly audits: Counter<LabelsOf<"aggregatorAudits">>;
}

/** Registers the aggregator metrics on `registry`. Call once per registry (prom-client refuses duplicates). */
export function createAggregatorMetrics(registry: Registry): AggregatorMetrics {
  const receipts = counterFrom(catalog.aggregatorReceipts, registry);
  const verifyDurationMs = histogramFrom(catalog.aggregatorVerifyDurationMs, registry);
  const audits = counterFrom(catalog.aggregatorAudits, registry);
  return Object.freeze({ receipts, verifyDurationMs, audits });
}
