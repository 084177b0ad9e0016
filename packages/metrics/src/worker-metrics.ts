/**
 * The worker's metrics: the small API the attempt loop calls, backed by prom-client.
 *
 * Design: the hot path only touches plain numbers in one state object (plus the two
 * prom-client histograms, whose buckets have to be counted per observation). Every
 * counter and gauge reads that state in a synchronous collect() at scrape time. So the
 * JSON endpoints (snapshot()) and /prometheus can never disagree, invariants such as
 * failed = total − successful hold in every scrape, and uptime is current at each one.
 *
 * With `enabled: false` the factory returns a frozen null object whose methods are
 * empty functions: nothing is allocated, registered or measured.
 */
import { Registry } from "prom-client";
import { catalog, SPOOL_REFUSAL_REASONS, spoolRefusalReason, type SpoolRefusalReason } from "./catalog";
import { counterFrom, gaugeFrom, histogramFrom, mirrorCounter } from "./factory";
import { evaluateHealth, OutcomeWindow, type HealthEvaluation } from "./health";
import { DEVICE_LABEL, validateStaticLabels, type StaticLabels } from "./labels";
import { registerProcessMetrics } from "./process-metrics";

export type ErrorClass = "gpu" | "network" | "signature" | "validation";
export const ERROR_CLASSES: readonly ErrorClass[] = Object.freeze(["gpu", "network", "signature", "validation"]);

export type BreakerState = "closed" | "half_open" | "open";
/** Value of tops_worker_circuit_breaker_state for each state. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = Object.freeze({ closed: 0, half_open: 1, open: 2 });

export type ConfigValue = string | number | boolean | null;
export type ConfigSummary = Readonly<Record<string, ConfigValue>>;

export interface WorkerInfo {
  readonly backend: string;
  readonly adapter: string;
  readonly kernelVer: string;
}

export interface AttemptSuccess {
  /** Wall time of the whole attempt in milliseconds. */
  readonly durationMs: number;
  /** int8 operations the aggregator verified for this attempt. */
  readonly ops: number;
}

export interface AttemptFailure {
  readonly durationMs: number;
  readonly errorClass: ErrorClass;
}

/** A point-in-time copy of everything the JSON endpoints show. */
export interface WorkerSnapshot {
  readonly enabled: boolean;
  readonly version: string;
  readonly deviceDid: string;
  /** Date.now() when the snapshot was taken. */
  readonly takenAtMs: number;
  readonly uptimeSeconds: number;
  readonly totalAttempts: number;
  readonly successfulAttempts: number;
  readonly failedAttempts: number;
  readonly errors: Readonly<Record<ErrorClass, number>>;
  /** Over all finished attempts with a valid duration; 0 before the first. */
  readonly minDurationMs: number;
  readonly avgDurationMs: number;
  readonly maxDurationMs: number;
  /** Unix time (seconds) of the last success; null before the first. */
  readonly lastSuccessUnixSeconds: number | null;
  readonly consecutiveFailures: number;
  readonly attemptsInFlight: number;
  readonly receiptsQueued: number;
  readonly receiptsDropped: number;
  /** Spooled receipts the aggregator refused on resubmission, by bounded reason. */
  readonly spoolRefused: Readonly<Record<SpoolRefusalReason, number>>;
  readonly int8Ops: number;
  readonly breakerState: BreakerState;
  readonly engineReady: boolean;
  readonly info: WorkerInfo;
  /** As given to setConfigSummary(), with secret-looking entries redacted. */
  readonly config: ConfigSummary;
  readonly health: HealthEvaluation;
}

export interface WorkerMetrics {
  readonly enabled: boolean;
  /** The prom-client registry behind /prometheus; null when disabled. */
  readonly registry: Registry | null;
  /** An attempt began (attempts in flight + 1). It is counted in the totals when it ends. */
  attemptStarted(): void;
  attemptSucceeded(result: AttemptSuccess): void;
  attemptFailed(result: AttemptFailure): void;
  /**
   * int8 operations the aggregator verified outside an attempt, e.g. a spooled receipt
   * accepted on resubmission. Adds to tops_worker_int8_ops_total only.
   */
  verifiedOps(ops: number): void;
  /** One network round trip (e.g. receipt submission) took `ms` milliseconds. */
  networkLatency(ms: number): void;
  setBreakerState(state: BreakerState): void;
  setReceiptsQueued(n: number): void;
  receiptDropped(): void;
  /**
   * A spooled receipt was refused on resubmission (e.g. STALE_EPOCH after a long outage): its
   * work is lost. `code` is the aggregator's error code; the label keeps a bounded reason.
   */
  spoolReceiptRefused(code: string): void;
  setInfo(info: WorkerInfo): void;
  setEngineReady(ready: boolean): void;
  /** Shown by GET /status. Secret-looking keys and URL credentials are redacted. */
  setConfigSummary(summary: ConfigSummary): void;
  snapshot(): WorkerSnapshot;
}

export interface WorkerMetricsOptions {
  /** Default true. false gives the no-op null object. */
  readonly enabled?: boolean;
  /** Becomes the `device_did` label on every series (omitted when empty). */
  readonly deviceDid: string;
  /** Worker version, for tops_worker_info and the JSON endpoints. */
  readonly version: string;
  /** Fleet labels (e.g. from METRICS_LABELS) added to every series. */
  readonly staticLabels?: StaticLabels;
  /** Registry to register on; a fresh one by default (never prom-client's global). */
  readonly registry?: Registry;
  /** Default true: process_* and nodejs_* metrics (CPU, RSS, event-loop lag, start time) on the same registry. */
  readonly processMetrics?: boolean;
}

const UNKNOWN_INFO: WorkerInfo = Object.freeze({ backend: "unknown", adapter: "unknown", kernelVer: "unknown" });

/** Keys whose values are never shown, whatever the caller passes. */
const SECRET_KEY = /pass|secret|token|private|credential|auth|api_?key|(^|_)sk($|_)|(^|_)key$/i;
/** "scheme://user:pass@host" → "scheme://[redacted]@host". */
const URL_CREDENTIALS = /(\w+:\/\/)[^/@\s]+@/g;

export function redactConfigSummary(summary: ConfigSummary): ConfigSummary {
  const out: Record<string, ConfigValue> = {};
  for (const [key, value] of Object.entries(summary)) {
    if (SECRET_KEY.test(key)) out[key] = "[redacted]";
    else if (typeof value === "string") out[key] = value.replace(URL_CREDENTIALS, "$1[redacted]@");
    else out[key] = value;
  }
  return Object.freeze(out);
}

/** Durations from a broken clock must not crash the worker: negative → 0, NaN/∞ → dropped. */
function cleanMs(ms: number): number | null {
  if (!Number.isFinite(ms)) return null;
  return ms < 0 ? 0 : ms;
}

function cleanCount(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function createWorkerMetrics(options: WorkerMetricsOptions): WorkerMetrics {
  if (options.enabled === false) return disabledWorkerMetrics(options);
  const staticLabels = options.staticLabels ?? {};
  validateStaticLabels(staticLabels);

  const registry = options.registry ?? new Registry();
  registry.setDefaultLabels(options.deviceDid ? { ...staticLabels, [DEVICE_LABEL]: options.deviceDid } : { ...staticLabels });

  const startedAt = performance.now();
  const s = {
    total: 0, successful: 0, failed: 0,
    gpu: 0, network: 0, signature: 0, validation: 0,
    consecutive: 0, lastSuccessMs: 0, ops: 0,
    inFlight: 0, queued: 0, dropped: 0,
    refused: Object.fromEntries(SPOOL_REFUSAL_REASONS.map((r) => [r, 0])) as Record<SpoolRefusalReason, number>,
    breaker: "closed" as BreakerState, engineReady: false,
    durMin: Infinity, durMax: 0, durSum: 0, durCount: 0,
    info: UNKNOWN_INFO, config: Object.freeze({}) as ConfigSummary,
  };
  const window = new OutcomeWindow();
  const uptimeSeconds = (): number => (performance.now() - startedAt) / 1000;

  // Counters: mirrored from the state at scrape time.
  counterFrom(catalog.totalAttempts, registry, function () { mirrorCounter(this, s.total); });
  counterFrom(catalog.successfulAttempts, registry, function () { mirrorCounter(this, s.successful); });
  counterFrom(catalog.failedAttempts, registry, function () { mirrorCounter(this, s.failed); });
  counterFrom(catalog.gpuErrors, registry, function () { mirrorCounter(this, s.gpu); });
  counterFrom(catalog.networkErrors, registry, function () { mirrorCounter(this, s.network); });
  counterFrom(catalog.signatureErrors, registry, function () { mirrorCounter(this, s.signature); });
  counterFrom(catalog.validationErrors, registry, function () { mirrorCounter(this, s.validation); });
  counterFrom(catalog.int8Ops, registry, function () { mirrorCounter(this, s.ops); });
  counterFrom(catalog.receiptsDropped, registry, function () { mirrorCounter(this, s.dropped); });
  // Every reason is exported from the start (at 0), so increase() sees the first refusal.
  counterFrom(catalog.spoolRefused, registry, function () {
    this.reset();
    for (const reason of SPOOL_REFUSAL_REASONS) this.inc({ reason }, s.refused[reason]);
  });
  if (options.processMetrics !== false) registerProcessMetrics(registry);

  // Gauges.
  gaugeFrom(catalog.uptimeSeconds, registry, function () { this.set(uptimeSeconds()); });
  gaugeFrom(catalog.consecutiveFailures, registry, function () { this.set(s.consecutive); });
  // Percent × 100 (95.5 % → 9550), as the contract's "/ 100 gives percent" queries expect.
  gaugeFrom(catalog.successRate, registry, function () { this.set(s.total === 0 ? 0 : (s.successful / s.total) * 100 * 100); });
  gaugeFrom(catalog.lastSuccessTimestamp, registry, function () { this.set(s.lastSuccessMs / 1000); });
  gaugeFrom(catalog.circuitBreakerState, registry, function () { this.set(BREAKER_STATE_VALUE[s.breaker]); });
  gaugeFrom(catalog.attemptsInFlight, registry, function () { this.set(s.inFlight); });
  gaugeFrom(catalog.receiptsQueued, registry, function () { this.set(s.queued); });
  const info = gaugeFrom(catalog.info, registry);
  const setInfoSeries = (i: WorkerInfo): void => {
    // One series only: drop the previous label set so a backend switch does not leave a stale 1.
    info.reset();
    info.set({ version: options.version || "unknown", backend: i.backend || "unknown", adapter: i.adapter || "unknown", kernel_ver: i.kernelVer || "unknown" }, 1);
  };
  setInfoSeries(UNKNOWN_INFO);

  // Histograms: observed on the hot path. Unlabelled prom-client histograms start with every
  // bucket at 0, so histogram_quantile() has series from the first scrape (tested).
  const attemptDuration = histogramFrom(catalog.attemptDurationMs, registry);
  const networkLatency = histogramFrom(catalog.networkLatencyMs, registry);

  const finish = (durationMs: number): void => {
    if (s.inFlight > 0) s.inFlight--;
    s.total++;
    const ms = cleanMs(durationMs);
    if (ms === null) return;
    if (ms < s.durMin) s.durMin = ms;
    if (ms > s.durMax) s.durMax = ms;
    s.durSum += ms;
    s.durCount++;
    attemptDuration.observe(ms);
  };

  return Object.freeze({
    enabled: true,
    registry,
    attemptStarted(): void {
      s.inFlight++;
    },
    attemptSucceeded(result: AttemptSuccess): void {
      finish(result.durationMs);
      s.successful++;
      s.consecutive = 0;
      s.lastSuccessMs = Date.now();
      s.ops += cleanCount(result.ops);
      window.push(false);
    },
    attemptFailed(result: AttemptFailure): void {
      finish(result.durationMs);
      s.failed++;
      s.consecutive++;
      // A switch rather than s[result.errorClass]++: an unknown class from untyped code must
      // not create a stray property; it still counts as a failure, under no class.
      switch (result.errorClass) {
        case "gpu": s.gpu++; break;
        case "network": s.network++; break;
        case "signature": s.signature++; break;
        case "validation": s.validation++; break;
      }
      window.push(true);
    },
    verifiedOps(ops: number): void {
      s.ops += cleanCount(ops);
    },
    networkLatency(ms: number): void {
      const clean = cleanMs(ms);
      if (clean !== null) networkLatency.observe(clean);
    },
    setBreakerState(state: BreakerState): void {
      if (Object.hasOwn(BREAKER_STATE_VALUE, state)) s.breaker = state;
    },
    setReceiptsQueued(n: number): void {
      s.queued = cleanCount(n);
    },
    receiptDropped(): void {
      s.dropped++;
    },
    spoolReceiptRefused(code: string): void {
      s.refused[spoolRefusalReason(code)]++;
    },
    setInfo(i: WorkerInfo): void {
      s.info = Object.freeze({ backend: i.backend, adapter: i.adapter, kernelVer: i.kernelVer });
      setInfoSeries(s.info);
    },
    setEngineReady(ready: boolean): void {
      s.engineReady = ready;
    },
    setConfigSummary(summary: ConfigSummary): void {
      s.config = redactConfigSummary(summary);
    },
    snapshot(): WorkerSnapshot {
      return {
        enabled: true,
        version: options.version,
        deviceDid: options.deviceDid,
        takenAtMs: Date.now(),
        uptimeSeconds: uptimeSeconds(),
        totalAttempts: s.total,
        successfulAttempts: s.successful,
        failedAttempts: s.failed,
        errors: { gpu: s.gpu, network: s.network, signature: s.signature, validation: s.validation },
        minDurationMs: s.durCount === 0 ? 0 : s.durMin,
        avgDurationMs: s.durCount === 0 ? 0 : s.durSum / s.durCount,
        maxDurationMs: s.durMax,
        lastSuccessUnixSeconds: s.lastSuccessMs === 0 ? null : s.lastSuccessMs / 1000,
        consecutiveFailures: s.consecutive,
        attemptsInFlight: s.inFlight,
        receiptsQueued: s.queued,
        receiptsDropped: s.dropped,
        spoolRefused: { ...s.refused },
        int8Ops: s.ops,
        breakerState: s.breaker,
        engineReady: s.engineReady,
        info: s.info,
        config: s.config,
        health: evaluateHealth({ consecutiveFailures: s.consecutive, recentAttempts: window.attempts, recentFailures: window.failureCount }),
      };
    },
  });
}

const noop = (): void => {};

/** The METRICS_ENABLED=0 null object: every update is an empty function. */
function disabledWorkerMetrics(options: WorkerMetricsOptions): WorkerMetrics {
  const snapshot: WorkerSnapshot = Object.freeze({
    enabled: false,
    version: options.version,
    deviceDid: options.deviceDid,
    takenAtMs: 0,
    uptimeSeconds: 0,
    totalAttempts: 0,
    successfulAttempts: 0,
    failedAttempts: 0,
    errors: Object.freeze({ gpu: 0, network: 0, signature: 0, validation: 0 }),
    minDurationMs: 0,
    avgDurationMs: 0,
    maxDurationMs: 0,
    lastSuccessUnixSeconds: null,
    consecutiveFailures: 0,
    attemptsInFlight: 0,
    receiptsQueued: 0,
    receiptsDropped: 0,
    spoolRefused: Object.freeze(Object.fromEntries(SPOOL_REFUSAL_REASONS.map((r) => [r, 0])) as Record<SpoolRefusalReason, number>),
    int8Ops: 0,
    breakerState: "closed",
    engineReady: false,
    info: UNKNOWN_INFO,
    config: Object.freeze({}),
    health: Object.freeze({ status: "healthy", recentFailureRate: null, reasons: Object.freeze([]) }),
  });
  return Object.freeze({
    enabled: false,
    registry: null,
    attemptStarted: noop,
    attemptSucceeded: noop,
    attemptFailed: noop,
    verifiedOps: noop,
    networkLatency: noop,
    setBreakerState: noop,
    setReceiptsQueued: noop,
    receiptDropped: noop,
    spoolReceiptRefused: noop,
    setInfo: noop,
    setEngineReady: noop,
    setConfigSummary: noop,
    snapshot: () => snapshot,
  });
}
