export * from "./catalog";
export { createWorkerMetrics, redactConfigSummary, ERROR_CLASSES, BREAKER_STATE_VALUE } from "./worker-metrics";
export type {
  WorkerMetrics, WorkerMetricsOptions, WorkerSnapshot, WorkerInfo, AttemptSuccess, AttemptFailure,
  ErrorClass, BreakerState, ConfigSummary, ConfigValue,
} from "./worker-metrics";
export { createAggregatorMetrics } from "./aggregator-metrics";
export type { AggregatorMetrics, AggregatorMetricsOptions } from "./aggregator-metrics";
export { PROCESS_METRIC_NAMES, registerProcessMetrics } from "./process-metrics";
export { metricsConfigFromEnv, defaultMetricsConfig, MetricsConfigError, DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT } from "./config";
export type { MetricsConfig, AuthConfig, BasicAuthConfig, RateLimitConfig, Env } from "./config";
export { parseStaticLabels, validateStaticLabels, DEVICE_LABEL } from "./labels";
export type { StaticLabels } from "./labels";
export { createNameFilter } from "./filter";
export type { NameFilter } from "./filter";
export { evaluateHealth, evaluateReadiness, HEALTH_THRESHOLDS, HEALTH_WINDOW, HEALTH_MIN_SAMPLE } from "./health";
export type { HealthStatus, HealthEvaluation, HealthInput, Readiness } from "./health";
export {
  renderRegistry, negotiateFormat, acceptsGzip, contentTypeOf, PROMETHEUS_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE,
} from "./exposition";
export type { ExpositionFormat } from "./exposition";
export { startMetricsServer } from "./server";
export type { MetricsServer, MetricsServerOptions, MetricsLogger } from "./server";
export { metricsView, statusView, healthView, readyView } from "./views";
export type { MetricsView, StatusView, HealthView, ReadyView } from "./views";
