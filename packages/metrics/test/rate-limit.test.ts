import { describe, expect, it } from "vitest";
import { TokenBucketLimiter } from "../src/rate-limit";

describe("TokenBucketLimiter", () => {
  it("allows a burst, then refills at the configured rate, per client", () => {
    let now = 0;
    const l = new TokenBucketLimiter({ perSecond: 2, burst: 3 }, () => now);
    expect([1, 2, 3].map(() => l.take("a").allowed)).toEqual([true, true, true]);
    const denied = l.take("a");
    expect(denied).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(l.take("b").allowed).toBe(true); // another client is unaffected
    now += 499;
    expect(l.take("a").allowed).toBe(false);
    now += 2;
    expect(l.take("a").allowed).toBe(true); // 0.5 s at 2/s = one token
    expect(l.take("a").allowed).toBe(false);
  });

  it("asks slow-rate clients to wait whole seconds", () => {
    const l = new TokenBucketLimiter({ perSecond: 0.1, burst: 1 }, () => 0);
    l.take("a");
    expect(l.take("a")).toEqual({ allowed: false, retryAfterSeconds: 10 });
  });

  it("bounds its memory by forgetting idle clients", () => {
    let now = 0;
    const l = new TokenBucketLimiter({ perSecond: 1, burst: 1 }, () => now);
    for (let i = 0; i < 5000; i++) l.take(`10.0.${i >> 8}.${i & 255}`);
    expect(l.size).toBeLessThanOrEqual(4096);
    now += 10_000;
    l.take("fresh");
    expect(l.size).toBeLessThanOrEqual(4096);
  });
});
