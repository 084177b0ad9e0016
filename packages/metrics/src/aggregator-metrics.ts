/**
 * The aggregator's tops_aggregator_* metrics, created from the catalog on a registry the
 * aggregator owns (it serves them on its own GET /metrics; see renderRegistry()).
 */
import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { catalog } from "./catalog";
import { counterFrom, gaugeFrom, histogramFrom } from "./factory";
import { registerProcessMetrics } from "./process-metrics";

type LabelsOf<K extends keyof typeof catalog> = (typeof catalog)[K]["labels"][number];

export interface AggregatorMetrics {
  /** inc({ outcome, code }) once per receipt received. */
  readonly receipts: Counter<LabelsOf<"aggregatorReceipts">>;
  /** observe(ms) once per receipt verified. */
  readonly verifyDurationMs: Histogram<LabelsOf<"aggregatorVerifyDurationMs">>;
  /** inc({ result }) once per audit (re-computation). */
  readonly audits: Counter<LabelsOf<"aggregatorAudits">>;
  /** set(n): receipts in the ledger (set at start from the loaded ledger, then after each append). */
  readonly storedReceipts: Gauge<LabelsOf<"aggregatorStoredReceipts">>;
  /** inc(ops) once per accepted receipt: its int8 operations (m·n·k·batch·2 per layer, as the worker counts them). */
  readonly verifiedOps: Counter<LabelsOf<"aggregatorVerifiedOps">>;
  /** set(n): keys under quarantine now (on start, on each quarantine and when one expires). */
  readonly quarantinedKeys: Gauge<LabelsOf<"aggregatorQuarantinedKeys">>;
  /** observe(ms) once per committed write transaction of the receipt store. */
  readonly dbCommitDurationMs: Histogram<LabelsOf<"aggregatorDbCommitDurationMs">>;
  /** inc({ class }) once per database error. */
  readonly dbErrors: Counter<LabelsOf<"aggregatorDbErrors">>;
}

export interface AggregatorMetricsOptions {
  /** Default true: process_* and nodejs_* metrics on the same registry. */
  readonly processMetrics?: boolean;
}

/** Registers the aggregator metrics on `registry`. Call once per registry (prom-client refuses duplicates). */
export function createAggregatorMetrics(registry: Registry, options: AggregatorMetricsOptions = {}): AggregatorMetrics {
  const receipts = counterFrom(catalog.aggregatorReceipts, registry);
  const verifyDurationMs = histogramFrom(catalog.aggregatorVerifyDurationMs, registry);
  const audits = counterFrom(catalog.aggregatorAudits, registry);
  const storedReceipts = gaugeFrom(catalog.aggregatorStoredReceipts, registry);
  const verifiedOps = counterFrom(catalog.aggregatorVerifiedOps, registry);
  const quarantinedKeys = gaugeFrom(catalog.aggregatorQuarantinedKeys, registry);
  const dbCommitDurationMs = histogramFrom(catalog.aggregatorDbCommitDurationMs, registry);
  const dbErrors = counterFrom(catalog.aggregatorDbErrors, registry);
  if (options.processMetrics !== false) registerProcessMetrics(registry);
  return Object.freeze({ receipts, verifyDurationMs, audits, storedReceipts, verifiedOps, quarantinedKeys, dbCommitDurationMs, dbErrors });
}
