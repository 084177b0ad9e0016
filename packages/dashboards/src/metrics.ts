/**
 * Typed access to metric names. Every name in the generated dashboard and rules comes
 * through here from `@tops/metrics`'s catalog, so a renamed metric breaks generation
 * (and the checked-in outputs' freshness test) instead of silently emptying a panel.
 */
import { catalog, metricName, type MetricKey, type MetricType } from "@tops/metrics";

function requireType(key: MetricKey, type: MetricType): string {
  const descriptor = catalog[key];
  if (descriptor.type !== type) {
    // Fails generation: a counter used as a gauge (or vice versa) gives wrong PromQL.
    throw new Error(`catalog.${key} (${descriptor.name}) is a ${descriptor.type}, used here as a ${type}`);
  }
  return descriptor.name;
}

/** Name of a counter; only ever used inside rate()/increase(). */
export function counterName(key: MetricKey): string {
  return requireType(key, "counter");
}

/** Name of a gauge; used as is, never inside rate()/increase(). */
export function gaugeName(key: MetricKey): string {
  return requireType(key, "gauge");
}

/** Base name of a histogram (without `_bucket`/`_sum`/`_count`), for naming derived series. */
export function histogramName(key: MetricKey): string {
  return requireType(key, "histogram");
}

/** Name of one of a histogram's series. */
export function histogramSeriesName(key: MetricKey, series: "bucket" | "sum" | "count"): string {
  requireType(key, "histogram");
  return metricName(key, series);
}

/** Label names a catalog metric declares (e.g. the info metric's build labels). */
export function labelsOf(key: MetricKey): readonly string[] {
  return catalog[key].labels;
}
