/**
 * The JSON bodies of /metrics, /status, /health and /ready, built from a snapshot.
 * Field names follow the Rust worker's endpoints so existing scripts keep working;
 * additions are noted in the README.
 */
import { evaluateReadiness, type HealthStatus } from "./health";
import type { BreakerState, ConfigSummary, WorkerSnapshot } from "./worker-metrics";

function perSecond(count: number, uptimeSeconds: number): number {
  return uptimeSeconds > 0 ? count / uptimeSeconds : 0;
}

export interface MetricsView {
  readonly metrics: {
    readonly total_attempts: number;
    readonly successful_attempts: number;
    readonly failed_attempts: number;
    readonly average_time_ms: number;
    readonly min_time_ms: number;
    readonly max_time_ms: number;
    readonly gpu_errors: number;
    readonly network_errors: number;
    readonly signature_errors: number;
    readonly validation_errors: number;
    readonly uptime_seconds: number;
    /** Unix seconds (the Rust worker gave seconds since start). */
    readonly last_successful_attempt: number | null;
    readonly consecutive_failures: number;
    /** Lifetime averages; use rate() in Prometheus for recent rates. */
    readonly attempts_per_second: number;
    readonly receipts_per_second: number;
  };
  readonly health_status: HealthStatus;
  readonly circuit_breaker_status: BreakerState;
}

export function metricsView(s: WorkerSnapshot): MetricsView {
  return {
    metrics: {
      total_attempts: s.totalAttempts,
      successful_attempts: s.successfulAttempts,
      failed_attempts: s.failedAttempts,
      average_time_ms: s.avgDurationMs,
      min_time_ms: s.minDurationMs,
      max_time_ms: s.maxDurationMs,
      gpu_errors: s.errors.gpu,
      network_errors: s.errors.network,
      signature_errors: s.errors.signature,
      validation_errors: s.errors.validation,
      uptime_seconds: Math.floor(s.uptimeSeconds),
      last_successful_attempt: s.lastSuccessUnixSeconds,
      consecutive_failures: s.consecutiveFailures,
      attempts_per_second: perSecond(s.totalAttempts, s.uptimeSeconds),
      // A receipt is produced by each successful (aggregator-accepted) attempt.
      receipts_per_second: perSecond(s.successfulAttempts, s.uptimeSeconds),
    },
    health_status: s.health.status,
    circuit_breaker_status: s.breakerState,
  };
}

export interface StatusView {
  readonly health: HealthStatus;
  readonly version: string;
  readonly device_did: string;
  readonly uptime_seconds: number;
  readonly total_attempts: number;
  readonly successful_attempts: number;
  readonly failed_attempts: number;
  /** 0..1 (the Prometheus gauge is percent × 100). */
  readonly success_rate: number;
  readonly average_time_ms: number;
  readonly attempts_per_second: number;
  readonly receipts_per_second: number;
  readonly consecutive_failures: number;
  readonly error_counts: {
    readonly gpu_errors: number;
    readonly network_errors: number;
    readonly signature_errors: number;
    readonly validation_errors: number;
  };
  readonly engine_ready: boolean;
  readonly circuit_breaker_status: BreakerState;
  readonly receipts_queued: number;
  readonly receipts_dropped: number;
  readonly config_summary: ConfigSummary;
}

export function statusView(s: WorkerSnapshot): StatusView {
  return {
    health: s.health.status,
    version: s.version,
    device_did: s.deviceDid,
    uptime_seconds: Math.floor(s.uptimeSeconds),
    total_attempts: s.totalAttempts,
    successful_attempts: s.successfulAttempts,
    failed_attempts: s.failedAttempts,
    success_rate: s.totalAttempts > 0 ? s.successfulAttempts / s.totalAttempts : 0,
    average_time_ms: s.avgDurationMs,
    attempts_per_second: perSecond(s.totalAttempts, s.uptimeSeconds),
    receipts_per_second: perSecond(s.successfulAttempts, s.uptimeSeconds),
    consecutive_failures: s.consecutiveFailures,
    error_counts: {
      gpu_errors: s.errors.gpu,
      network_errors: s.errors.network,
      signature_errors: s.errors.signature,
      validation_errors: s.errors.validation,
    },
    engine_ready: s.engineReady,
    circuit_breaker_status: s.breakerState,
    receipts_queued: s.receiptsQueued,
    receipts_dropped: s.receiptsDropped,
    config_summary: s.config,
  };
}

export interface HealthView {
  readonly status: HealthStatus;
  readonly uptime_seconds: number;
  readonly version: string;
  /** RFC 3339. */
  readonly timestamp: string;
  readonly consecutive_failures: number;
  readonly recent_failure_rate: number | null;
  readonly reasons: readonly string[];
}

export function healthView(s: WorkerSnapshot): HealthView {
  return {
    status: s.health.status,
    uptime_seconds: Math.floor(s.uptimeSeconds),
    version: s.version,
    timestamp: new Date(s.takenAtMs).toISOString(),
    consecutive_failures: s.consecutiveFailures,
    recent_failure_rate: s.health.recentFailureRate,
    reasons: s.health.reasons,
  };
}

export interface ReadyView {
  readonly ready: boolean;
  readonly reason: string | null;
  readonly status: HealthStatus;
  readonly engine_ready: boolean;
}

export function readyView(s: WorkerSnapshot): ReadyView {
  const r = evaluateReadiness(s.engineReady, s.health.status);
  return { ready: r.ready, reason: r.reason, status: s.health.status, engine_ready: s.engineReady };
}
