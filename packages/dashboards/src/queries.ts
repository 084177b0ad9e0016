/**
 * The worker's PromQL, written once and rendered for a scope: the dashboard renders it with
 * `$__rate_interval` and the job/instance variables, the recording rules with a fixed 5m
 * window. Aggregations keep `job, instance` so one dashboard and one rule file serve a fleet.
 */
import type { MetricKey } from "@tops/metrics";
import { counterName, gaugeName, histogramSeriesName } from "./metrics";
import {
  histogramQuantile, increase, maxBy, rate, ratioOrNothing, selector, sumBy, type QueryScope,
} from "./promql";

/** Per-worker rate of a catalog counter. */
function perWorkerRate(key: MetricKey, scope: QueryScope): string {
  return sumBy(scope.by, rate(selector(counterName(key), scope), scope.window));
}

export const attemptsRate = (scope: QueryScope): string => perWorkerRate("totalAttempts", scope);
export const successfulAttemptsRate = (scope: QueryScope): string => perWorkerRate("successfulAttempts", scope);
export const failedAttemptsRate = (scope: QueryScope): string => perWorkerRate("failedAttempts", scope);

/** Share of attempts that failed; absent (not NaN) while a worker makes no attempts. */
export const attemptFailureRatio = (scope: QueryScope): string =>
  ratioOrNothing(failedAttemptsRate(scope), attemptsRate(scope));

/** The error counters the contract breaks failures down into, keyed by the legend word. */
export const errorKinds = {
  gpu: "gpuErrors",
  network: "networkErrors",
  signature: "signatureErrors",
  validation: "validationErrors",
} as const;

export const errorRate = (kind: keyof typeof errorKinds, scope: QueryScope): string => perWorkerRate(errorKinds[kind], scope);

/**
 * Quantile of attempt duration per worker. The contract's `histogram_quantile(q, ..._bucket)`
 * ran on raw cumulative buckets (a quantile since process start, wrong after any restart);
 * quantiles need rated buckets summed by `le`.
 */
export const attemptDurationQuantile = (quantile: number, scope: QueryScope): string =>
  histogramQuantile(quantile, sumBy([...scope.by, "le"], rate(selector(histogramSeriesName("attemptDurationMs", "bucket"), scope), scope.window)));

/** Mean attempt duration per worker: rate(_sum) / rate(_count), absent without attempts. */
export const attemptDurationMean = (scope: QueryScope): string =>
  ratioOrNothing(
    sumBy(scope.by, rate(selector(histogramSeriesName("attemptDurationMs", "sum"), scope), scope.window)),
    sumBy(scope.by, rate(selector(histogramSeriesName("attemptDurationMs", "count"), scope), scope.window)),
  );

/** Fleet-wide bucket rates, one series per `le`, for the heatmap. */
export const attemptDurationBucketRates = (scope: QueryScope): string =>
  sumBy(["le"], rate(selector(histogramSeriesName("attemptDurationMs", "bucket"), scope), scope.window));

export const networkLatencyQuantile = (quantile: number, scope: QueryScope): string =>
  histogramQuantile(quantile, sumBy([...scope.by, "le"], rate(selector(histogramSeriesName("networkLatencyMs", "bucket"), scope), scope.window)));

/** Achieved int8 throughput per worker in ops/s (divide by 1e12 for TOPS). */
export const int8OpsRate = (scope: QueryScope): string => perWorkerRate("int8Ops", scope);

/** Attempts started in a window (the dashboard passes `$__range`). */
export const attemptsIncrease = (scope: QueryScope, window: string): string =>
  sumBy(scope.by, increase(selector(counterName("totalAttempts"), scope), window));

/** The worker's own lifetime success rate. The gauge stores percent x 100 (9500 = 95.00 %). */
export const reportedSuccessPercent = (scope: QueryScope): string => `${selector(gaugeName("successRate"), scope)} / 100`;

export const uptimeSeconds = (scope: QueryScope): string => selector(gaugeName("uptimeSeconds"), scope);

export const consecutiveFailures = (scope: QueryScope): string => maxBy(scope.by, selector(gaugeName("consecutiveFailures"), scope));

/**
 * Seconds since the last successful attempt. The gauge reads 0 before the first success;
 * `> 0` drops that case so it is not shown as "56 years ago".
 */
export const secondsSinceLastSuccess = (scope: QueryScope): string =>
  `time() - (${selector(gaugeName("lastSuccessTimestamp"), scope)} > 0)`;

/** Circuit breaker towards the aggregator: 0 closed, 1 half-open, 2 open. */
export const circuitBreakerState = (scope: QueryScope): string => maxBy(scope.by, selector(gaugeName("circuitBreakerState"), scope));

export const receiptsQueued = (scope: QueryScope): string => maxBy(scope.by, selector(gaugeName("receiptsQueued"), scope));

export const receiptsDroppedRate = (scope: QueryScope): string => perWorkerRate("receiptsDropped", scope);

/** Scrape health of the worker targets (1 up, 0 failed scrape). */
export const scrapeUp = (scope: QueryScope): string => selector("up", scope);
