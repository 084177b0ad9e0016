/**
 * Health and readiness, as pure functions of a few numbers.
 *
 * Mapping (first match wins):
 *   critical   consecutive failures ≥ 10
 *   unhealthy  consecutive failures ≥ 5   or recent failure rate > 0.5
 *   degraded   consecutive failures ≥ 2   or recent failure rate > 0.2
 *   healthy    otherwise
 *
 * The Rust original used the lifetime failure rate, which reacts to an outage hours
 * late on a long-running worker and flags "unhealthy" after a single failed first
 * attempt. Here the rate is taken over the last {@link HEALTH_WINDOW} attempts and
 * only once at least {@link HEALTH_MIN_SAMPLE} of them exist; before that only the
 * consecutive-failure rule applies.
 */

export type HealthStatus = "healthy" | "degraded" | "unhealthy" | "critical";

export const HEALTH_THRESHOLDS = Object.freeze({
  degradedConsecutive: 2,
  unhealthyConsecutive: 5,
  criticalConsecutive: 10,
  degradedFailureRate: 0.2,
  unhealthyFailureRate: 0.5,
});
/** Attempts the failure rate looks back over. */
export const HEALTH_WINDOW = 100;
/** Attempts needed in the window before the failure rate counts. */
export const HEALTH_MIN_SAMPLE = 10;

export interface HealthInput {
  readonly consecutiveFailures: number;
  /** Attempts in the recent window (≤ HEALTH_WINDOW). */
  readonly recentAttempts: number;
  readonly recentFailures: number;
}

export interface HealthEvaluation {
  readonly status: HealthStatus;
  /** Failures / attempts over the recent window; null while the sample is too small. */
  readonly recentFailureRate: number | null;
  /** Human-readable causes, empty when healthy. */
  readonly reasons: readonly string[];
}

export function evaluateHealth(input: HealthInput): HealthEvaluation {
  const t = HEALTH_THRESHOLDS;
  const c = input.consecutiveFailures;
  const rate = input.recentAttempts >= HEALTH_MIN_SAMPLE ? input.recentFailures / input.recentAttempts : null;
  const reasons: string[] = [];
  const consecutive = (n: number): void => void reasons.push(`${c} consecutive failures (≥ ${n})`);
  const failing = (r: number): void => void reasons.push(`failure rate ${(rate ?? 0).toFixed(2)} over the last ${input.recentAttempts} attempts (> ${r})`);

  if (c >= t.criticalConsecutive) {
    consecutive(t.criticalConsecutive);
    return { status: "critical", recentFailureRate: rate, reasons };
  }
  if (c >= t.unhealthyConsecutive || (rate !== null && rate > t.unhealthyFailureRate)) {
    if (c >= t.unhealthyConsecutive) consecutive(t.unhealthyConsecutive);
    if (rate !== null && rate > t.unhealthyFailureRate) failing(t.unhealthyFailureRate);
    return { status: "unhealthy", recentFailureRate: rate, reasons };
  }
  if (c >= t.degradedConsecutive || (rate !== null && rate > t.degradedFailureRate)) {
    if (c >= t.degradedConsecutive) consecutive(t.degradedConsecutive);
    if (rate !== null && rate > t.degradedFailureRate) failing(t.degradedFailureRate);
    return { status: "degraded", recentFailureRate: rate, reasons };
  }
  return { status: "healthy", recentFailureRate: rate, reasons };
}

export interface Readiness {
  readonly ready: boolean;
  readonly reason: string | null;
}

/** Ready = an engine is up and the worker is not critical. */
export function evaluateReadiness(engineReady: boolean, status: HealthStatus): Readiness {
  if (!engineReady) return { ready: false, reason: "no compute engine is ready" };
  if (status === "critical") return { ready: false, reason: "health is critical" };
  return { ready: true, reason: null };
}

/**
 * Outcomes of the last {@link HEALTH_WINDOW} attempts in a ring buffer: O(1) per
 * attempt, no allocation, so it can sit on the attempt hot path.
 */
export class OutcomeWindow {
  private readonly failed = new Uint8Array(HEALTH_WINDOW);
  private next = 0;
  private filled = 0;
  private failures = 0;

  push(failed: boolean): void {
    const f = failed ? 1 : 0;
    if (this.filled === HEALTH_WINDOW) this.failures -= this.failed[this.next] ?? 0;
    else this.filled++;
    this.failed[this.next] = f;
    this.failures += f;
    this.next = (this.next + 1) % HEALTH_WINDOW;
  }

  get attempts(): number {
    return this.filled;
  }

  get failureCount(): number {
    return this.failures;
  }
}
