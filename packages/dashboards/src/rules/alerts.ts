/**
 * Alerting rules. The first six keep the contract's names, severities and thresholds
 * (HighErrorRate, WorkerDown, HighResponseTime, ConsecutiveFailures) or the issue's
 * (LowSuccessRate, NoSuccessfulAttempts); where the contract's PromQL was wrong the comment
 * says what changed. The rest are what a verified-compute fleet's operator needs next.
 *
 * Annotations follow the monitoring-mixins style: a static `summary`, a templated `description`.
 */
import { scrapeJobs } from "../jobs";
import { labelValue } from "@tops/metrics";
import { counterName, gaugeName } from "../metrics";
import { increase, maxBy, perWorker, rate, ratioOrNothing, rulesScope, selector, sumBy } from "../promql";
import { circuitBreakerState, consecutiveFailures } from "../queries";
import type { AlertingRule } from "./model";
import { recorded } from "./recording";

/** Values of tops_aggregator_receipts_total's `outcome` label, from the catalog ("rejected": refused, `code` says why). */
export const receiptOutcome = { rejected: labelValue("aggregatorReceipts", "outcome", "rejected") } as const;

/** Circuit breaker gauge value for "open" (catalog help: 0 closed, 1 half-open, 2 open). */
const circuitOpen = 2;

const lines = (...parts: string[]): string => parts.join("\n");

/** `up == 0` catches a target that fails its scrapes; `absent(up)` one that is gone from discovery altogether. */
function targetDown(job: string): string {
  return lines(`up{job="${job}"} == 0`, "or", `absent(up{job="${job}"})`);
}

const downDescription = (what: string): string =>
  `{{ if $labels.instance }}${what} {{ $labels.instance }} (job {{ $labels.job }}) has failed every scrape` +
  `{{ else }}No target of job {{ $labels.job }} exists{{ end }} for more than 1 minute: ` +
  "the process is gone or its metrics endpoint is unreachable.";

export const workerAlerts: readonly AlertingRule[] = [
  {
    // Contract: `tops_worker_uptime_seconds == 0`. A dead worker exports nothing, so its
    // uptime series goes stale and that expression never fires; use the scrape itself.
    alert: "WorkerDown",
    expr: targetDown(scrapeJobs.worker),
    for: "1m",
    labels: { severity: "critical" },
    annotations: { summary: "A tops-worker is down.", description: downDescription("Worker") },
  },
  {
    // Contract: rate(failed)/rate(total)*100 > 5 divides by zero without traffic; the
    // recorded ratio is absent then. Same 5 % threshold, expressed as a ratio.
    alert: "HighErrorRate",
    expr: `${recorded.attemptFailureRatio} > 0.05`,
    for: "2m",
    labels: { severity: "warning" },
    annotations: {
      summary: "A worker's attempts are failing at a high rate.",
      description: "{{ $value | humanizePercentage }} of attempts on {{ $labels.instance }} failed over the last 5 minutes (threshold 5%).",
    },
  },
  {
    // Contract: histogram_quantile over raw cumulative buckets (a quantile since process
    // start); the record rates the buckets over 5m and sums them by (job, instance, le).
    alert: "HighResponseTime",
    expr: `${recorded.attemptDurationP95} > 1000`,
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: "Worker attempts are slow.",
      description: "95th percentile attempt duration on {{ $labels.instance }} is {{ $value | printf \"%.0f\" }} ms over the last 5 minutes (threshold 1000 ms).",
    },
  },
  {
    alert: "ConsecutiveFailures",
    expr: `${consecutiveFailures(rulesScope)} > 10`,
    for: "1m",
    labels: { severity: "critical" },
    annotations: {
      summary: "A worker keeps failing attempt after attempt.",
      description: "{{ $value | printf \"%.0f\" }} consecutive attempts have failed on {{ $labels.instance }} (threshold 10).",
    },
  },
  {
    alert: "LowSuccessRate",
    expr: `${recorded.attemptSuccessRatio} < 0.9`,
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: "A worker's success rate is low.",
      description: "Only {{ $value | humanizePercentage }} of attempts on {{ $labels.instance }} succeeded over the last 5 minutes (threshold 90%).",
    },
  },
  {
    // No success in the last 2m while attempts were made. The uptime guard keeps a worker
    // that started less than 2m ago (its window is not yet 2m long) from firing early.
    alert: "NoSuccessfulAttempts",
    expr: lines(
      "(",
      `  ${sumBy(perWorker, increase(selector(counterName("successfulAttempts"), rulesScope), "2m"))} == 0`,
      "  and on (job, instance)",
      `  ${sumBy(perWorker, increase(selector(counterName("totalAttempts"), rulesScope), "2m"))} > 0`,
      ")",
      "and on (job, instance)",
      `${maxBy(perWorker, selector(gaugeName("uptimeSeconds"), rulesScope))} > 120`,
    ),
    labels: { severity: "critical" },
    annotations: {
      summary: "A worker makes attempts but none succeeds.",
      description: "{{ $labels.instance }} has made attempts but not one succeeded in the last 2 minutes: it is earning nothing.",
    },
  },
  {
    alert: "CircuitBreakerOpen",
    expr: `${circuitBreakerState(rulesScope)} == ${circuitOpen}`,
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: "A worker's circuit breaker to the aggregator is open.",
      description: "The circuit breaker from {{ $labels.instance }} to the aggregator has been open for 5 minutes: receipts are spooled instead of submitted. Check the aggregator and the network between them.",
    },
  },
  {
    // The spool is normally empty (receipts only wait there when submission fails), so a
    // spool that has not been empty once in 15 minutes (10m window + 5m for) is piling up.
    alert: "ReceiptsSpoolNotDraining",
    expr: `min by (job, instance) (min_over_time(${selector(gaugeName("receiptsQueued"), rulesScope)}[10m])) > 0`,
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: "Signed receipts are piling up in a worker's spool.",
      description: "{{ $labels.instance }}'s receipt spool has not been empty for 15 minutes (at least {{ $value | printf \"%.0f\" }} receipts waiting). Receipts are not reaching the aggregator; once the spool is full they are dropped.",
    },
  },
  {
    alert: "ReceiptsDropped",
    expr: `${sumBy(perWorker, increase(selector(counterName("receiptsDropped"), rulesScope), "10m"))} > 0`,
    labels: { severity: "critical" },
    annotations: {
      summary: "A worker dropped signed receipts.",
      description: "{{ $labels.instance }} dropped about {{ $value | printf \"%.0f\" }} signed receipts in the last 10 minutes because its spool was full: that verified work is lost.",
    },
  },
  {
    // Fleet-wide, per job: compares the last 5m with the job's own average over a day, so
    // it needs no absolute TOPS threshold and adapts as the fleet grows.
    alert: "TopsBelowFleetUsual",
    expr: `${recorded.fleetInt8OpsRate} < 0.5 * avg_over_time(${recorded.fleetInt8OpsRate}[1d])`,
    for: "15m",
    labels: { severity: "warning" },
    annotations: {
      summary: "Fleet throughput dropped far below its usual level.",
      description: "Job {{ $labels.job }} achieves {{ $value | humanize }} int8 ops/s, less than half of its average over the last day.",
    },
  },
];

export const aggregatorAlerts: readonly AlertingRule[] = [
  {
    alert: "AggregatorDown",
    expr: targetDown(scrapeJobs.aggregator),
    for: "1m",
    labels: { severity: "critical" },
    annotations: { summary: "The aggregator is down.", description: downDescription("Aggregator") },
  },
  {
    alert: "AggregatorRejectingReceipts",
    expr: `${ratioOrNothing(
      sumBy(perWorker, rate(selector(counterName("aggregatorReceipts"), rulesScope, [`outcome="${receiptOutcome.rejected}"`]), rulesScope.window)),
      sumBy(perWorker, rate(selector(counterName("aggregatorReceipts"), rulesScope), rulesScope.window)),
    )} > 0.05`,
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: "The aggregator rejects many receipts.",
      description: "Aggregator {{ $labels.instance }} rejected {{ $value | humanizePercentage }} of receipts over the last 5 minutes (threshold 5%). The `code` label of tops_aggregator_receipts_total{outcome=\"rejected\"} says why.",
    },
  },
];
