import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/backoff";
import { CircuitBreaker, type BreakerState } from "../../src/circuit-breaker";
import { RateLimiter } from "../../src/rate-limiter";

describe("circuit breaker", () => {
  it("opens after N consecutive failures, half-opens after the cooldown, closes on a successful probe", () => {
    let now = 0;
    const changes: BreakerState[] = [];
    const b = new CircuitBreaker({ threshold: 3, cooldownMs: 1000, now: () => now, onChange: (s) => changes.push(s) });
    b.failure();
    b.failure();
    expect(b.current).toBe("closed");
    b.success(); // a success resets the count
    b.failure();
    b.failure();
    expect(b.current).toBe("closed");
    b.failure();
    expect(b.current).toBe("open");
    expect(b.waitMs()).toBe(1000);
    now = 999;
    expect(b.current).toBe("open");
    now = 1000;
    expect(b.current).toBe("half_open");
    expect(b.waitMs()).toBe(0);
    b.success();
    expect(b.current).toBe("closed");
    expect(changes).toEqual(["open", "half_open", "closed"]);
  });

  it("a failed probe re-opens at once", () => {
    let now = 0;
    const b = new CircuitBreaker({ threshold: 2, cooldownMs: 100, now: () => now });
    b.failure();
    b.failure();
    now = 150;
    expect(b.current).toBe("half_open");
    b.failure();
    expect(b.current).toBe("open");
    expect(b.waitMs()).toBe(100);
  });
});

describe("backoff", () => {
  it("grows exponentially up to the cap, with full jitter", () => {
    const p = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 10].map((r) => backoffDelay(p, r, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(p, 3, () => 0)).toBe(0);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(p, 2);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(400);
    }
  });
});

describe("rate limiter", () => {
  it("spaces starts at least 1/rate apart", async () => {
    const limiter = new RateLimiter(20);
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      await limiter.wait();
      starts.push(performance.now());
    }
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(45);
  });

  it("an abort cuts the wait short", async () => {
    const limiter = new RateLimiter(0.001);
    await limiter.wait();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    const t = performance.now();
    await limiter.wait(ac.signal);
    expect(performance.now() - t).toBeLessThan(5000);
  });

  it("rate 0 never waits", async () => {
    const limiter = new RateLimiter(0);
    const t = performance.now();
    for (let i = 0; i < 1000; i++) await limiter.wait();
    expect(performance.now() - t).toBeLessThan(1000);
  });
});
