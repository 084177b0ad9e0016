/**
 * Recording rules for what both the dashboard and the alerts need: per-worker 5m rates and
 * the ratios built from them. Names follow the `level:metric:operations` convention
 * (https://prometheus.io/docs/practices/rules/): level `job_instance` = aggregated to the
 * job and instance labels, `_total` dropped once a counter is rated, ratios named
 * `<numerator>_per_<denominator>:ratio_rate5m` as in the Prometheus docs' own example.
 */
import type { MixinConfig } from "../config";
import { counterName, histogramName } from "../metrics";
import { perJob, ratioOrNothing, rulesScope, sumBy } from "../promql";
import {
  attemptDurationQuantile, attemptsRate, failedAttemptsRate, int8OpsRate, successfulAttemptsRate,
} from "../queries";
import type { RecordingRule } from "./model";

const withoutTotal = (name: string): string => name.replace(/_total$/, "");

function recordName(level: string, metric: string, operations: string): string {
  return `${level}:${withoutTotal(metric)}:${operations}`;
}

/** `tops_worker_failed_attempts_per_total_attempts`: numerator, then denominator without its namespace. */
function ratioMetric(numerator: string, denominator: string): string {
  return `${withoutTotal(numerator)}_per_${withoutTotal(denominator).replace(/^tops_worker_/, "")}`;
}

export const recorded = {
  attemptsRate: recordName("job_instance", counterName("totalAttempts"), "rate5m"),
  successfulAttemptsRate: recordName("job_instance", counterName("successfulAttempts"), "rate5m"),
  failedAttemptsRate: recordName("job_instance", counterName("failedAttempts"), "rate5m"),
  attemptSuccessRatio: recordName("job_instance", ratioMetric(counterName("successfulAttempts"), counterName("totalAttempts")), "ratio_rate5m"),
  attemptFailureRatio: recordName("job_instance", ratioMetric(counterName("failedAttempts"), counterName("totalAttempts")), "ratio_rate5m"),
  attemptDurationP95: recordName("job_instance", histogramName("attemptDurationMs"), "p95_rate5m"),
  int8OpsRate: recordName("job_instance", counterName("int8Ops"), "rate5m"),
  /** Achieved ops/s of a whole job (fleet): what TopsBelowFleetUsual compares with its own past. */
  fleetInt8OpsRate: recordName("job", counterName("int8Ops"), "rate5m"),
} as const;

/** The worker's recording rules, over the targets `config` selects. */
export function recordingRules(config: MixinConfig): readonly RecordingRule[] {
  const scope = rulesScope(config);
  // Records are read back through the same selector: they keep the targets' job (and namespace).
  const own = (name: string): string => `${name}{${config.workerSelector}}`;
  return [
    { record: recorded.attemptsRate, expr: attemptsRate(scope) },
    { record: recorded.successfulAttemptsRate, expr: successfulAttemptsRate(scope) },
    { record: recorded.failedAttemptsRate, expr: failedAttemptsRate(scope) },
    // Ratios reuse the records above (rules in a group run in order, so they see this
    // evaluation's values) and are absent, not NaN, while a worker makes no attempts.
    { record: recorded.attemptSuccessRatio, expr: ratioOrNothing(own(recorded.successfulAttemptsRate), own(recorded.attemptsRate)) },
    { record: recorded.attemptFailureRatio, expr: ratioOrNothing(own(recorded.failedAttemptsRate), own(recorded.attemptsRate)) },
    { record: recorded.attemptDurationP95, expr: attemptDurationQuantile(0.95, scope) },
    { record: recorded.int8OpsRate, expr: int8OpsRate(scope) },
    { record: recorded.fleetInt8OpsRate, expr: sumBy(perJob(scope), own(recorded.int8OpsRate)) },
  ];
}

/** Every recorded series name, for the tests' "names only known metrics" check. */
export const recordedNames: readonly string[] = Object.values(recorded);
