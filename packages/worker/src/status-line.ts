/**
 * The live status line shown on a terminal: attempts/s and TOPS over the last 10 s,
 * success rate, breaker state and the last error, redrawn in place once a second.
 */
import type { BreakerState } from "./circuit-breaker";
import type { LoopEvent } from "./loop";

const WINDOW_MS = 10_000;
/** The last error is shown this long after it happened, with its age; then it is old news. */
export const LAST_ERROR_SHOWN_MS = 60_000;

export class StatusLine {
  private readonly recent: { at: number; ops: number; ok: boolean }[] = [];
  private total = 0;
  private ok = 0;
  private breaker: BreakerState = "closed";
  private lastError = "";
  private lastErrorAt = 0;
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WriteStream, private readonly now: () => number = Date.now) {}

  start(): void {
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.out.write("\r\x1b[2K");
  }

  /** Writes a whole line above the status line. */
  print(line: string): void {
    this.out.write(`\r\x1b[2K${line}\n`);
    this.draw();
  }

  setBreaker(state: BreakerState): void {
    this.breaker = state;
  }

  onEvent(e: LoopEvent): void {
    if (e.type === "accepted" || e.type === "failed") {
      this.total++;
      if (e.type === "accepted") this.ok++;
      this.recent.push({ at: this.now(), ops: e.type === "accepted" ? e.ops : 0, ok: e.type === "accepted" });
      if (e.type === "failed") {
        this.lastError = `${e.errorClass}: ${e.code}`;
        this.lastErrorAt = this.now();
      }
    }
    if (e.type === "spooled" || e.type === "resubmitted") this.queued = e.queued;
  }

  render(): string {
    const cutoff = this.now() - WINDOW_MS;
    while (this.recent.length > 0 && this.recent[0]!.at < cutoff) this.recent.shift();
    const seconds = WINDOW_MS / 1000;
    const rate = this.recent.length / seconds;
    const opsPerSecond = this.recent.reduce((s, r) => s + r.ops, 0) / seconds;
    const success = this.total === 0 ? 0 : (100 * this.ok) / this.total;
    const parts = [
      `${rate.toFixed(2)} att/s`,
      // TOPS on a GPU, GOPS on llvmpipe or the CPU reference
      opsPerSecond >= 1e11 ? `${(opsPerSecond / 1e12).toFixed(2)} TOPS` : `${(opsPerSecond / 1e9).toFixed(2)} GOPS`,
      `${success.toFixed(1)}% ok (${this.ok}/${this.total})`,
      `breaker ${this.breaker}`,
    ];
    if (this.queued > 0) parts.push(`${this.queued} spooled`);
    const errorAge = this.now() - this.lastErrorAt;
    if (this.lastError && errorAge < LAST_ERROR_SHOWN_MS) parts.push(`last error ${this.lastError} (${Math.round(errorAge / 1000)} s ago)`);
    return parts.join(" | ");
  }

  private draw(): void {
    const line = this.render();
    const width = this.out.columns ?? 120;
    this.out.write(`\r\x1b[2K${line.length > width ? line.slice(0, width - 1) : line}`);
  }
}
