/**
 * PromQL text builders. They only assemble strings: the tests parse every expression
 * they produce with lezer-promql and a real Prometheus evaluates them, so they stay dumb.
 */

import type { MixinConfig } from "./config";

/** The labels that identify one worker; Prometheus attaches them at scrape time. */
export const perWorker = ["job", "instance"] as const;

/**
 * Where an expression runs. The dashboard and the rules share query functions and differ
 * only in the rate window and in the label matchers added to every selector.
 */
export interface QueryScope {
  /** Range of every rate()/increase(). */
  readonly window: string;
  /** Label matchers added to every selector. */
  readonly matchers: readonly string[];
  /** Labels that identify one target (one worker, one aggregator): per-target aggregations keep them. */
  readonly by: readonly string[];
}

/** Grafana: the window follows the scrape interval and zoom; job/instance come from variables. */
export const dashboardScope: QueryScope = {
  window: "$__rate_interval",
  matchers: ['job=~"$job"', 'instance=~"$instance"'],
  by: perWorker,
};

/**
 * Rules: a fixed 5m window (>= 4 scrapes at 15s, per the usual rate() advice) over the targets
 * the config's selector picks. Aggregations keep the deployment labels (the namespace in
 * Kubernetes) so alerts carry them and Alertmanager can scope inhibitions with them.
 */
export function rulesScope(config: MixinConfig, target: "worker" | "aggregator" = "worker"): QueryScope {
  return {
    window: "5m",
    matchers: [target === "worker" ? config.workerSelector : config.aggregatorSelector],
    by: [...config.deploymentLabels, ...perWorker],
  };
}

/** The labels of a whole job (fleet): the scope's per-target labels without `instance`. */
export const perJob = (scope: QueryScope): string[] => scope.by.filter((label) => label !== "instance");

/** `name{matchers...}`; `extra` matchers (e.g. `outcome="rejected"`) come after the scope's. */
export function selector(metric: string, scope: Pick<QueryScope, "matchers">, extra: readonly string[] = []): string {
  const matchers = [...scope.matchers, ...extra];
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(", ")}}`;
}

export function rate(vectorSelector: string, window: string): string {
  return `rate(${vectorSelector}[${window}])`;
}

export function increase(vectorSelector: string, window: string): string {
  return `increase(${vectorSelector}[${window}])`;
}

export function sumBy(labels: readonly string[], expr: string): string {
  return `sum by (${labels.join(", ")}) (${expr})`;
}

export function maxBy(labels: readonly string[], expr: string): string {
  return `max by (${labels.join(", ")}) (${expr})`;
}

export function histogramQuantile(quantile: number, bucketRates: string): string {
  return `histogram_quantile(${quantile}, ${bucketRates})`;
}

/**
 * `numerator / (denominator > 0)`: where the denominator is 0 (no traffic) the series is
 * dropped instead of yielding NaN or +Inf, so ratio panels show "no data" and ratio alerts
 * stay silent rather than flapping on 0/0.
 */
export function ratioOrNothing(numerator: string, denominator: string): string {
  return `${numerator} / (${denominator} > 0)`;
}
