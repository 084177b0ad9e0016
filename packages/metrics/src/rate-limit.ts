/**
 * Per-client token buckets: each remote address may send `burst` requests back to back,
 * then `perSecond` per second. Memory is bounded: when the table grows past
 * MAX_CLIENTS, buckets that have refilled completely (clients gone quiet) are dropped,
 * since a full bucket is the same as no bucket.
 */
import type { RateLimitConfig } from "./config";

const MAX_CLIENTS = 4096;

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly config: RateLimitConfig, private readonly now: () => number = () => performance.now()) {}

  take(client: string): RateDecision {
    const now = this.now();
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= MAX_CLIENTS) this.sweep(now);
      b = { tokens: this.config.burst, updatedMs: now };
      this.buckets.set(client, b);
    } else {
      this.refill(b, now);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { allowed: true };
    }
    // Whole seconds, as Retry-After requires; at least 1 so clients do not spin.
    const wait = Math.max(1, Math.ceil((1 - b.tokens) / this.config.perSecond));
    return { allowed: false, retryAfterSeconds: wait };
  }

  /** Clients currently tracked (for tests and the bench). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(b: Bucket, now: number): void {
    const elapsedSeconds = Math.max(0, now - b.updatedMs) / 1000;
    b.tokens = Math.min(this.config.burst, b.tokens + elapsedSeconds * this.config.perSecond);
    b.updatedMs = now;
  }

  private sweep(now: number): void {
    for (const [client, b] of this.buckets) {
      this.refill(b, now);
      if (b.tokens >= this.config.burst) this.buckets.delete(client);
    }
    // Everyone is active: evict the oldest entries (Map keeps insertion order) rather than grow.
    for (const client of this.buckets.keys()) {
      if (this.buckets.size < MAX_CLIENTS) break;
      this.buckets.delete(client);
    }
  }
}
