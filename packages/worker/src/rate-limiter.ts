import { sleep } from "./backoff";

/** Spaces attempt starts at least 1/rate seconds apart; rate 0 means no limit. */
export class RateLimiter {
  private next = 0;
  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async wait(signal?: AbortSignal): Promise<void> {
    if (this.perSecond <= 0) return;
    const t = this.now();
    const start = Math.max(t, this.next);
    this.next = start + 1000 / this.perSecond;
    await sleep(start - t, signal);
  }
}
