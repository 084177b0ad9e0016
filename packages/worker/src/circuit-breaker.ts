/**
 * Circuit breaker towards the aggregator: closed → open after `threshold` consecutive
 * failures → half-open after `cooldownMs` (one probe is let through) → closed on success,
 * open again on failure. Keeps a dead aggregator from being hammered.
 */
export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerOptions {
  readonly threshold: number;
  readonly cooldownMs: number;
  readonly now?: () => number;
  readonly onChange?: (state: BreakerState) => void;
}

export class CircuitBreaker {
  private state: BreakerState = "closed";
  private failures = 0;
  private openedAt = 0;
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get current(): BreakerState {
    if (this.state === "open" && this.now() - this.openedAt >= this.options.cooldownMs) this.set("half_open");
    return this.state;
  }

  /** Open (and still cooling down): no request should go out. */
  isOpen(): boolean {
    return this.current === "open";
  }

  /** Milliseconds until a probe may go out; 0 when requests may go now. */
  waitMs(): number {
    return this.current === "open" ? Math.max(0, this.openedAt + this.options.cooldownMs - this.now()) : 0;
  }

  success(): void {
    this.failures = 0;
    this.set("closed");
  }

  failure(): void {
    this.failures++;
    if (this.state === "half_open" || this.failures >= this.options.threshold) {
      this.openedAt = this.now();
      this.set("open");
    }
  }

  private set(state: BreakerState): void {
    if (state === this.state) return;
    this.state = state;
    this.options.onChange?.(state);
  }
}
