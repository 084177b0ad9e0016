/**
 * Process metrics for both services: prom-client's default collectors, under their usual
 * names (process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds,
 * nodejs_eventloop_lag_seconds, nodejs_heap_*, ...), the ones node-exporter-style dashboards
 * and the Node.js mixins already query. Not part of the contract: they carry no tops_ prefix.
 */
import { collectDefaultMetrics, type Registry } from "prom-client";

/** Metric names a scrape always contains once registerProcessMetrics() ran (tests, dashboards). */
export const PROCESS_METRIC_NAMES = {
  cpuSeconds: "process_cpu_seconds_total",
  residentMemoryBytes: "process_resident_memory_bytes",
  startTimeSeconds: "process_start_time_seconds",
  eventLoopLagSeconds: "nodejs_eventloop_lag_seconds",
  eventLoopLagP99Seconds: "nodejs_eventloop_lag_p99_seconds",
  heapUsedBytes: "nodejs_heap_size_used_bytes",
} as const;

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
}
