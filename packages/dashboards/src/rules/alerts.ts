/**
 * Alerting rules, generated for a MixinConfig (src/config.ts): every selector is the config's,
 * and aggregator alerts exist only where the config deploys an aggregator. The first six keep
 * the contract's names, severities and thresholds (HighErrorRate, WorkerDown, HighResponseTime,
 * ConsecutiveFailures) or the issue's (LowSuccessRate, NoSuccessfulAttempts); where the
 * contract's PromQL was wrong the comment says what changed. The rest are what a
 * verified-compute fleet's operator needs next.
 *
 * Annotations follow the monitoring-mixins style: a static `summary`, a templated
 * `description`, and a `runbook_url` into docs/runbooks.md (one section per alert).
 */
import { labelValue } from "@tops/metrics";
import { runbookAnchor, type MixinConfig } from "../config";
import { counterName, gaugeName } from "../metrics";
import { increase, maxBy, perJob, rate, ratioOrNothing, rulesScope, selector, sumBy } from "../promql";
import { circuitBreakerState, consecutiveFailures } from "../queries";
import type { AlertingRule, Duration, Severity } from "./model";
import { recorded } from "./recording";

/** Values of tops_aggregator_receipts_total's `outcome` label, from the catalog ("rejected": refused, `code` says why). */
export const receiptOutcome = { rejected: labelValue("aggregatorReceipts", "outcome", "rejected") } as const;

/** Circuit breaker gauge value for "open" (catalog help: 0 closed, 1 half-open, 2 open). */
const circuitOpen = 2;

/** Window of TopsBelowFleetUsual's baseline: the fleet's own average over this long. */
export const fleetBaselineWindow = "1d";

const lines = (...parts: string[]): string => parts.join("\n");

/** `up == 0` catches a target that fails its scrapes; `absent(up)` one that is gone from discovery altogether. */
function targetDown(matchers: string): string {
  return lines(`up{${matchers}} == 0`, "or", `absent(up{${matchers}})`);
}

const downDescription = (what: string): string =>
  `{{ if $labels.instance }}${what} {{ $labels.instance }} (job {{ $labels.job }}) has failed every scrape` +
  `{{ else }}No target of job {{ $labels.job }} exists{{ end }} for more than 1 minute: ` +
  "the process is gone or its metrics endpoint is unreachable.";

interface AlertSpec {
  readonly alert: string;
  readonly expr: string;
  readonly for?: Duration;
  readonly severity: Severity;
  readonly summary: string;
  readonly description: string;
}

function alertingRule(config: MixinConfig, spec: AlertSpec): AlertingRule {
  return {
    alert: spec.alert,
    expr: spec.expr,
    ...(spec.for ? { for: spec.for } : {}),
    labels: { severity: spec.severity },
    annotations: {
      summary: spec.summary,
      description: spec.description,
      runbook_url: `${config.runbookUrl}#${runbookAnchor(spec.alert)}`,
    },
  };
}

export function workerAlerts(config: MixinConfig): readonly AlertingRule[] {
  const scope = rulesScope(config);
  const own = (name: string): string => `${name}{${config.workerSelector}}`;
  const specs: AlertSpec[] = [
    {
      // Contract: `tops_worker_uptime_seconds == 0`. A dead worker exports nothing, so its
      // uptime series goes stale and that expression never fires; use the scrape itself.
      alert: "WorkerDown",
      expr: targetDown(config.workerSelector),
      for: "1m",
      severity: "critical",
      summary: "A tops-worker is down.",
      description: downDescription("Worker"),
    },
    {
      // Contract: rate(failed)/rate(total)*100 > 5 divides by zero without traffic; the
      // recorded ratio is absent then. Same 5 % threshold, expressed as a ratio.
      alert: "HighErrorRate",
      expr: `${own(recorded.attemptFailureRatio)} > 0.05`,
      for: "2m",
      severity: "warning",
      summary: "A worker's attempts are failing at a high rate.",
      description: "{{ $value | humanizePercentage }} of attempts on {{ $labels.instance }} failed over the last 5 minutes (threshold 5%).",
    },
    {
      // Contract: histogram_quantile over raw cumulative buckets (a quantile since process
      // start); the record rates the buckets over 5m and sums them by (job, instance, le).
      alert: "HighResponseTime",
      expr: `${own(recorded.attemptDurationP95)} > 1000`,
      for: "5m",
      severity: "warning",
      summary: "Worker attempts are slow.",
      description: "95th percentile attempt duration on {{ $labels.instance }} is {{ $value | printf \"%.0f\" }} ms over the last 5 minutes (threshold 1000 ms).",
    },
    {
      alert: "ConsecutiveFailures",
      expr: `${consecutiveFailures(scope)} > 10`,
      for: "1m",
      severity: "critical",
      summary: "A worker keeps failing attempt after attempt.",
      description: "{{ $value | printf \"%.0f\" }} consecutive attempts have failed on {{ $labels.instance }} (threshold 10).",
    },
    {
      alert: "LowSuccessRate",
      expr: `${own(recorded.attemptSuccessRatio)} < 0.9`,
      for: "5m",
      severity: "warning",
      summary: "A worker's success rate is low.",
      description: "Only {{ $value | humanizePercentage }} of attempts on {{ $labels.instance }} succeeded over the last 5 minutes (threshold 90%).",
    },
    {
      // No success in the last 2m while attempts were made. The uptime guard keeps a worker
      // that started less than 2m ago (its window is not yet 2m long) from firing early;
      // `for` keeps one slow scrape from paging.
      alert: "NoSuccessfulAttempts",
      expr: lines(
        "(",
        `  ${sumBy(scope.by, increase(selector(counterName("successfulAttempts"), scope), "2m"))} == 0`,
        "  and on (job, instance)",
        `  ${sumBy(scope.by, increase(selector(counterName("totalAttempts"), scope), "2m"))} > 0`,
        ")",
        "and on (job, instance)",
        `${maxBy(scope.by, selector(gaugeName("uptimeSeconds"), scope))} > 120`,
      ),
      for: "1m",
      severity: "critical",
      summary: "A worker makes attempts but none succeeds.",
      description: "{{ $labels.instance }} has made attempts but not one has succeeded for 3 minutes: it is earning nothing.",
    },
    {
      alert: "CircuitBreakerOpen",
      expr: `${circuitBreakerState(scope)} == ${circuitOpen}`,
      for: "5m",
      severity: "warning",
      summary: "A worker's circuit breaker to the aggregator is open.",
      description: "The circuit breaker from {{ $labels.instance }} to the aggregator has been open for 5 minutes: receipts are spooled instead of submitted. Check the aggregator and the network between them.",
    },
    {
      // The spool is normally empty (receipts only wait there when submission fails), so a
      // spool that has not been empty once in 15 minutes (10m window + 5m for) is piling up.
      alert: "ReceiptsSpoolNotDraining",
      expr: `min by (${scope.by.join(", ")}) (min_over_time(${selector(gaugeName("receiptsQueued"), scope)}[10m])) > 0`,
      for: "5m",
      severity: "warning",
      summary: "Signed receipts are piling up in a worker's spool.",
      description: "{{ $labels.instance }}'s receipt spool has not been empty for 15 minutes (at least {{ $value | printf \"%.0f\" }} receipts waiting). Receipts are not reaching the aggregator; once the spool is full they are dropped.",
    },
    {
      // `for` rides out a counter that a restart makes jump (increase() extrapolates).
      alert: "ReceiptsDropped",
      expr: `${sumBy(scope.by, increase(selector(counterName("receiptsDropped"), scope), "10m"))} > 0`,
      for: "1m",
      severity: "critical",
      summary: "A worker dropped signed receipts.",
      description: "{{ $labels.instance }} dropped about {{ $value | printf \"%.0f\" }} signed receipts in the last 10 minutes because its spool was full: that verified work is lost.",
    },
    {
      // Spooled receipts the aggregator refused when they were resubmitted (an outage longer
      // than an epoch gives STALE_EPOCH): the work was done and is lost. Per reason.
      alert: "SpooledReceiptsRefused",
      expr: `${sumBy([...scope.by, "reason"], increase(selector(counterName("spoolRefused"), scope), "10m"))} > 0`,
      for: "1m",
      severity: "warning",
      summary: "The aggregator refused spooled receipts on resubmission.",
      description: "The aggregator refused about {{ $value | printf \"%.0f\" }} receipts that {{ $labels.instance }} resubmitted from its spool in the last 10 minutes (reason {{ $labels.reason }}): that work is lost.",
    },
    {
      // Fleet-wide, per job: compares the last 5m with the job's own average over a day, so
      // it needs no absolute TOPS threshold and adapts as the fleet grows. The `offset`
      // term keeps it silent until the baseline really spans a day: a fleet younger than its
      // window would compare with an average of its own ramp-up.
      alert: "TopsBelowFleetUsual",
      expr: lines(
        `${own(recorded.fleetInt8OpsRate)} < 0.5 * avg_over_time(${own(recorded.fleetInt8OpsRate)}[${fleetBaselineWindow}])`,
        `and on (${perJob(scope).join(", ")})`,
        `${own(recorded.fleetInt8OpsRate)} offset ${fleetBaselineWindow}`,
      ),
      for: "15m",
      severity: "warning",
      summary: "Fleet throughput dropped far below its usual level.",
      description: "Job {{ $labels.job }} achieves {{ $value | humanize }} int8 ops/s, less than half of its average over the last day.",
    },
  ];
  return specs.map((spec) => alertingRule(config, spec));
}

/** Empty when the config deploys no aggregator: no rule may watch a job nobody scrapes. */
export function aggregatorAlerts(config: MixinConfig): readonly AlertingRule[] {
  if (!config.aggregatorDeployed) return [];
  const scope = rulesScope(config, "aggregator");
  const receipts = (extra: readonly string[] = []): string =>
    sumBy(scope.by, rate(selector(counterName("aggregatorReceipts"), scope, extra), scope.window));
  const specs: AlertSpec[] = [
    {
      alert: "AggregatorDown",
      expr: targetDown(config.aggregatorSelector),
      for: "1m",
      severity: "critical",
      summary: "The aggregator is down.",
      description: downDescription("Aggregator"),
    },
    {
      alert: "AggregatorRejectingReceipts",
      expr: `${ratioOrNothing(receipts([`outcome="${receiptOutcome.rejected}"`]), receipts())} > 0.05`,
      for: "5m",
      severity: "warning",
      summary: "The aggregator rejects many receipts.",
      description: "Aggregator {{ $labels.instance }} rejected {{ $value | humanizePercentage }} of receipts over the last 5 minutes (threshold 5%). The `code` label of tops_aggregator_receipts_total{outcome=\"rejected\"} says why.",
    },
  ];
  return specs.map((spec) => alertingRule(config, spec));
}
