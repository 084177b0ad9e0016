/**
 * The catalog: every metric the system exports, described once.
 *
 * The first twelve entries are the contract (`shared/spec/PROMETHEUS_METRICS.md`):
 * their names, types, help texts and buckets are copied from it verbatim and must
 * not change. The rest serve the contract's Health panel and "Future Enhancements".
 * Dashboards, alert rules and tests import names from here; no metric name is typed twice.
 */

export type MetricType = "counter" | "gauge" | "histogram";

export interface MetricDescriptor<Name extends string = string, Label extends string = string> {
  readonly name: Name;
  readonly type: MetricType;
  readonly help: string;
  /** Unit of the value (Prometheus base-unit words; the contract uses milliseconds). */
  readonly unit: "attempts" | "errors" | "seconds" | "milliseconds" | "percent_x100" | "ops" | "receipts" | "state" | "info" | "count" | "keys";
  readonly labels: readonly Label[];
  readonly buckets?: readonly number[];
  /** The closed set of values a label takes, where it has one (dashboards and alert rules select on them). */
  readonly labelValues?: Readonly<Partial<Record<Label, readonly string[]>>>;
  /** Whether the contract document defines this metric. */
  readonly contract: boolean;
}

function metric<const Name extends string, const Label extends string = never>(
  d: Omit<MetricDescriptor<Name, Label>, "labels"> & { labels?: readonly Label[] },
): MetricDescriptor<Name, Label> {
  return { ...d, labels: d.labels ?? [] };
}

/**
 * Why a spooled receipt was refused on resubmission: a closed set, so the label stays bounded
 * whatever codes the aggregator invents. spoolRefusalReason() maps an aggregator code onto it.
 */
export const SPOOL_REFUSAL_REASONS = ["stale_epoch", "replay", "key_refused", "invalid", "other"] as const;
export type SpoolRefusalReason = (typeof SPOOL_REFUSAL_REASONS)[number];

const REFUSAL_BY_CODE: Readonly<Record<string, SpoolRefusalReason>> = {
  // Outage longer than an epoch: the receipt's challenge is no longer accepted.
  STALE_EPOCH: "stale_epoch",
  PREV_HASH_MISMATCH: "stale_epoch",
  // Already stored (e.g. accepted before the worker saw the answer): not lost, but not earned twice.
  REPLAY: "replay",
  KEY_NOT_ALLOWED: "key_refused",
  KEY_QUARANTINED: "key_refused",
  BAD_SIGNATURE: "key_refused",
  BAD_PUBKEY: "key_refused",
  // The Rust project's verifier answered sig_ok: false.
  SIG_NOT_OK: "key_refused",
};

/** The bounded `reason` of tops_worker_spool_refused_total for an aggregator error code. */
export function spoolRefusalReason(code: string): SpoolRefusalReason {
  const known = REFUSAL_BY_CODE[code];
  if (known) return known;
  // Any other upper-case code is a 4xx about the receipt itself (schema, sizes, work root).
  return /^[A-Z][A-Z0-9_]*$/.test(code) ? "invalid" : "other";
}

export const catalog = {
  // --- contract: counters ---
  totalAttempts: metric({ name: "tops_worker_total_attempts_total", type: "counter", help: "Total number of attempts made", unit: "attempts", contract: true }),
  successfulAttempts: metric({ name: "tops_worker_successful_attempts_total", type: "counter", help: "Total number of successful attempts", unit: "attempts", contract: true }),
  failedAttempts: metric({ name: "tops_worker_failed_attempts_total", type: "counter", help: "Total number of failed attempts", unit: "attempts", contract: true }),
  gpuErrors: metric({ name: "tops_worker_gpu_errors_total", type: "counter", help: "Total number of GPU errors", unit: "errors", contract: true }),
  networkErrors: metric({ name: "tops_worker_network_errors_total", type: "counter", help: "Total number of network errors", unit: "errors", contract: true }),
  signatureErrors: metric({ name: "tops_worker_signature_errors_total", type: "counter", help: "Total number of signature errors", unit: "errors", contract: true }),
  validationErrors: metric({ name: "tops_worker_validation_errors_total", type: "counter", help: "Total number of validation errors", unit: "errors", contract: true }),
  // --- contract: gauges ---
  uptimeSeconds: metric({ name: "tops_worker_uptime_seconds", type: "gauge", help: "Worker uptime in seconds", unit: "seconds", contract: true }),
  consecutiveFailures: metric({ name: "tops_worker_consecutive_failures", type: "gauge", help: "Number of consecutive failures", unit: "count", contract: true }),
  successRate: metric({ name: "tops_worker_success_rate", type: "gauge", help: "Success rate as percentage (multiplied by 100)", unit: "percent_x100", contract: true }),
  // --- contract: histograms ---
  attemptDurationMs: metric({
    name: "tops_worker_attempt_duration_ms", type: "histogram", help: "Duration of attempts in milliseconds", unit: "milliseconds",
    buckets: [10, 25, 50, 100, 200, 500, 1000, 2000], contract: true,
  }),
  networkLatencyMs: metric({
    name: "tops_worker_network_latency_ms", type: "histogram", help: "Network request latency in milliseconds", unit: "milliseconds",
    buckets: [1, 5, 10, 25, 50, 100, 250, 500], contract: true,
  }),

  // --- beyond the contract: health panel and future enhancements ---
  info: metric({
    name: "tops_worker_info", type: "gauge", help: "Build and device information; the value is always 1", unit: "info",
    labels: ["version", "backend", "adapter", "kernel_ver"], contract: false,
  }),
  lastSuccessTimestamp: metric({
    name: "tops_worker_last_success_timestamp_seconds", type: "gauge",
    help: "Unix time of the last successful attempt, 0 before the first", unit: "seconds", contract: false,
  }),
  circuitBreakerState: metric({
    name: "tops_worker_circuit_breaker_state", type: "gauge",
    help: "Circuit breaker towards the aggregator: 0 closed, 1 half-open, 2 open", unit: "state", contract: false,
  }),
  int8Ops: metric({
    name: "tops_worker_int8_ops_total", type: "counter",
    help: "Total int8 operations in attempts the aggregator accepted; rate() gives achieved ops per second", unit: "ops", contract: false,
  }),
  attemptsInFlight: metric({ name: "tops_worker_attempts_in_flight", type: "gauge", help: "Attempts currently running", unit: "attempts", contract: false }),
  receiptsQueued: metric({ name: "tops_worker_receipts_queued", type: "gauge", help: "Signed receipts waiting in the spool for resubmission", unit: "receipts", contract: false }),
  receiptsDropped: metric({ name: "tops_worker_receipts_dropped_total", type: "counter", help: "Signed receipts dropped because the spool was full", unit: "receipts", contract: false }),
  spoolRefused: metric({
    name: "tops_worker_spool_refused_total", type: "counter",
    help: "Spooled receipts the aggregator refused on resubmission (lost work), by reason", unit: "receipts",
    labels: ["reason"], labelValues: { reason: SPOOL_REFUSAL_REASONS }, contract: false,
  }),

  // --- aggregator (served by the aggregator on its own /metrics) ---
  aggregatorReceipts: metric({
    name: "tops_aggregator_receipts_total", type: "counter", help: "Receipts received by the aggregator, by outcome and error code", unit: "receipts",
    labels: ["outcome", "code"], labelValues: { outcome: ["accepted", "rejected"] }, contract: false,
  }),
  aggregatorVerifyDurationMs: metric({
    name: "tops_aggregator_verify_duration_ms", type: "histogram", help: "Time to verify one receipt in milliseconds", unit: "milliseconds",
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500], contract: false,
  }),
  aggregatorAudits: metric({
    name: "tops_aggregator_audits_total", type: "counter", help: "Audits (row openings checked against the reference), by result", unit: "count",
    labels: ["result"], labelValues: { result: ["match", "mismatch", "bad_opening", "timeout", "error"] }, contract: false,
  }),
  aggregatorStoredReceipts: metric({
    name: "tops_aggregator_stored_receipts", type: "gauge", help: "Accepted receipts stored in the ledger, including those loaded at start", unit: "receipts", contract: false,
  }),
  aggregatorVerifiedOps: metric({
    name: "tops_aggregator_verified_ops_total", type: "counter",
    help: "int8 operations in receipts the aggregator accepted; rate() gives verified ops per second", unit: "ops", contract: false,
  }),
  aggregatorDbCommitDurationMs: metric({
    name: "tops_aggregator_db_commit_duration_ms", type: "histogram", help: "Time to commit one write transaction of the receipt store, in milliseconds", unit: "milliseconds",
    buckets: [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000], contract: false,
  }),
  aggregatorDbErrors: metric({
    name: "tops_aggregator_db_errors_total", type: "counter", help: "Errors from the receipt store's database, by class", unit: "errors",
    labels: ["class"], contract: false,
  }),
  aggregatorQuarantinedKeys: metric({
    name: "tops_aggregator_quarantined_keys", type: "gauge", help: "Worker keys refused now because they failed an audit", unit: "keys", contract: false,
  }),
} as const;

export type Catalog = typeof catalog;
export type MetricKey = keyof Catalog;

/** Metric name of a catalog entry; for histograms, `series` picks `_bucket`, `_sum` or `_count`. */
export function metricName(key: MetricKey, series?: "bucket" | "sum" | "count"): string {
  const base = catalog[key].name;
  return series ? `${base}_${series}` : base;
}

/** A label value the catalog lists for `key`'s `label`; throws if it does not, so a renamed value cannot go unnoticed. */
export function labelValue(key: MetricKey, label: string, value: string): string {
  const values = (catalog[key].labelValues as Readonly<Record<string, readonly string[]>> | undefined)?.[label];
  if (!values?.includes(value)) throw new Error(`catalog: ${catalog[key].name} has no ${label}="${value}"`);
  return value;
}

export const workerMetricKeys = (Object.keys(catalog) as MetricKey[]).filter((k) => catalog[k].name.startsWith("tops_worker_"));
export const contractMetricKeys = (Object.keys(catalog) as MetricKey[]).filter((k) => catalog[k].contract);
