/**
 * The worker loop: challenge → attempt → sign → submit, over and over.
 *
 * Network trouble is retried with backoff and jitter; a circuit breaker stops hammering a
 * dead aggregator; receipts that cannot be delivered go to the spool and are resubmitted,
 * oldest first, once the aggregator answers again. Every outcome lands in the metrics.
 */
import { attemptOps, deriveSeed, hexToBytes, parseReceipt, serializeReceipt, signReceipt, bytesToHex, type Sizes } from "@tops/protocol";
import { AggregatorUnavailable, type AggregatorClient, type Challenge, type SubmitOutcome } from "./aggregator-client";
import { backoffDelay, sleep, type BackoffPolicy } from "./backoff";
import type { CircuitBreaker } from "./circuit-breaker";
import { classOfRejection, type ErrorClass } from "./error-class";
import type { RateLimiter } from "./rate-limiter";
import type { Spool } from "./spool";

/** What the loop needs of the engine. */
export interface AttemptEngine {
  readonly driverHint: string;
  readonly kernelVer: string;
  /** `variant` names the kernel that ran; `exploring` marks a run timing a candidate kernel (its time says nothing about the sizes). */
  runAttempt(input: { seed: Uint8Array; sizes: Sizes }): Promise<{ workRoot: Uint8Array; wallMs: number; variant: string; exploring?: boolean }>;
}

/** Chooses each attempt's sizes and learns from how long they took (the autotuner). */
export interface SizePicker {
  next(): Sizes;
  record(sizes: Sizes, ms: number): void;
}

/** What the loop reports to the metrics registry. */
export interface LoopMetrics {
  attemptStarted(): void;
  attemptSucceeded(r: { durationMs: number; ops: number }): void;
  attemptFailed(r: { durationMs: number; errorClass: ErrorClass }): void;
  verifiedOps(ops: number): void;
  setReceiptsQueued(n: number): void;
  receiptDropped(): void;
}

export type LoopEvent =
  | { type: "signed"; nonce: number; epochId: number; sizes: Sizes; timeMs: number }
  | { type: "accepted"; nonce: number; sizes: Sizes; timeMs: number; ops: number }
  | { type: "failed"; errorClass: ErrorClass; code: string; message: string; nonce?: number }
  | { type: "spooled"; nonce: number; queued: number; dropped: number }
  | { type: "resubmitted"; id: string; outcome: "accepted" | "rejected"; code?: string };

export interface WorkerLoopDeps {
  readonly deviceDid: string;
  readonly secretKey: Uint8Array;
  readonly maxRetries: number;
  readonly backoff: BackoffPolicy;
  readonly maxAttempts: number;
  readonly engine: AttemptEngine;
  readonly sizes: SizePicker;
  readonly client: AggregatorClient;
  readonly spool: Spool;
  readonly breaker: CircuitBreaker;
  readonly rateLimiter: RateLimiter;
  readonly metrics: LoopMetrics;
  readonly onEvent?: (e: LoopEvent) => void;
}

/** The receipt's kernel_ver: the engine's kernel family and the variant that ran, e.g. "webgpu-int8/1 dot4-16x16r4x4k4". */
export function kernelVersion(family: string, variant: string): string {
  return variant && !family.includes(variant) ? `${family} ${variant}`.slice(0, 256) : family;
}

/** Refusals that mean the cached challenge is no longer good. */
const CHALLENGE_CODES = new Set(["STALE_EPOCH", "PREV_HASH_MISMATCH"]);

export interface LoopSummary {
  attempts: number;
  accepted: number;
  failed: number;
  spooled: number;
}

export class WorkerLoop {
  private challenge: Challenge | undefined;
  private lastNonce = 0;
  readonly summary: LoopSummary = { attempts: 0, accepted: 0, failed: 0, spooled: 0 };

  constructor(private readonly deps: WorkerLoopDeps) {}

  /** Runs until `signal` aborts or maxAttempts is reached; the attempt in flight is finished or spooled. */
  async run(signal: AbortSignal): Promise<LoopSummary> {
    const { breaker, maxAttempts } = this.deps;
    this.deps.metrics.setReceiptsQueued(this.deps.spool.size);
    while (!signal.aborted && (maxAttempts === 0 || this.summary.attempts < maxAttempts)) {
      if (breaker.isOpen()) {
        await sleep(breaker.waitMs(), signal);
        continue;
      }
      await this.deps.rateLimiter.wait(signal);
      if (signal.aborted) break;
      await this.drainSpool(signal);
      if (breaker.isOpen()) continue;
      await this.attempt(signal);
    }
    // A last chance for spooled receipts, e.g. when MAX_ATTEMPTS ends a scripted run.
    if (!signal.aborted && !breaker.isOpen()) await this.drainSpool(signal);
    return this.summary;
  }

  /** Nonces rise across restarts: milliseconds since 1970 × 1024, then +1 per attempt (< 2^53 until the year 2248). */
  private nextNonce(): number {
    this.lastNonce = Math.max(this.lastNonce + 1, Date.now() * 1024);
    return this.lastNonce;
  }

  private async currentChallenge(signal: AbortSignal): Promise<Challenge> {
    if (this.challenge && Date.now() < this.challenge.expiresAt - 500) return this.challenge;
    for (let retry = 0; ; retry++) {
      try {
        this.challenge = await this.deps.client.challenge();
        this.deps.breaker.success(); // only a real answer counts: a cached challenge says nothing about the aggregator
        return this.challenge;
      } catch (e) {
        if (!(e instanceof AggregatorUnavailable) || retry >= this.deps.maxRetries || signal.aborted) throw e;
        await sleep(backoffDelay(this.deps.backoff, retry), signal);
      }
    }
  }

  private fail(errorClass: ErrorClass, code: string, message: string, durationMs: number, nonce?: number): void {
    this.summary.failed++;
    this.deps.metrics.attemptFailed({ durationMs, errorClass });
    this.deps.onEvent?.({ type: "failed", errorClass, code, message, ...(nonce === undefined ? {} : { nonce }) });
  }

  private async attempt(signal: AbortSignal): Promise<void> {
    const { engine, metrics, breaker } = this.deps;
    this.summary.attempts++;
    metrics.attemptStarted();
    const started = performance.now();
    const elapsed = () => performance.now() - started;

    let challenge: Challenge;
    try {
      challenge = await this.currentChallenge(signal);
    } catch (e) {
      breaker.failure();
      return this.fail("network", "CHALLENGE_UNAVAILABLE", (e as Error).message, elapsed());
    }

    const nonce = this.nextNonce();
    const sizes = this.deps.sizes.next();
    const seed = deriveSeed({ prevHash: hexToBytes(challenge.prevHashHex), deviceDid: this.deps.deviceDid, nonce });
    let result: Awaited<ReturnType<AttemptEngine["runAttempt"]>>;
    const computeStarted = performance.now();
    try {
      result = await engine.runAttempt({ seed, sizes });
    } catch (e) {
      // GpuError carries a class (validation, out-of-memory, device-lost, …); anything else is still the engine's failure.
      const gpuClass = (e as { class?: unknown }).class;
      const code = typeof gpuClass === "string" ? `GPU_${gpuClass.toUpperCase().replace(/-/g, "_")}` : "GPU_ERROR";
      return this.fail("gpu", code, (e as Error).message, elapsed(), nonce);
    }
    // time_ms is part of the signed payload: the compute time, engine start to work_root.
    const timeMs = Math.round(performance.now() - computeStarted);
    let json: string;
    try {
      json = serializeReceipt(signReceipt({
        device_did: this.deps.deviceDid, epoch_id: challenge.epochId, prev_hash_hex: challenge.prevHashHex, nonce,
        work_root_hex: bytesToHex(result.workRoot), sizes, time_ms: timeMs, kernel_ver: kernelVersion(engine.kernelVer, result.variant),
        driver_hint: engine.driverHint,
      }, this.deps.secretKey));
    } catch (e) {
      return this.fail("signature", "SIGN_FAILED", (e as Error).message, elapsed(), nonce);
    }
    this.deps.onEvent?.({ type: "signed", nonce, epochId: challenge.epochId, sizes, timeMs });
    if (!result.exploring) this.deps.sizes.record(sizes, timeMs);

    const outcome = await this.submitWithRetry(json, signal);
    const durationMs = elapsed();
    if (outcome.kind === "accepted") {
      breaker.success();
      this.summary.accepted++;
      const ops = attemptOps(sizes);
      metrics.attemptSucceeded({ durationMs, ops });
      this.deps.onEvent?.({ type: "accepted", nonce, sizes, timeMs, ops });
    } else if (outcome.kind === "rejected") {
      breaker.success();
      // The challenge itself was refused (the epoch moved on, or the aggregator's secret changed): fetch a fresh one next time.
      if (CHALLENGE_CODES.has(outcome.code)) this.challenge = undefined;
      this.fail(classOfRejection(outcome.code), outcome.code, outcome.message, durationMs, nonce);
    } else {
      breaker.failure();
      await this.spoolReceipt(json, nonce);
      this.fail("network", "AGGREGATOR_UNAVAILABLE", outcome.reason, durationMs, nonce);
    }
  }

  private async submitWithRetry(json: string, signal: AbortSignal): Promise<SubmitOutcome> {
    for (let retry = 0; ; retry++) {
      const outcome = await this.deps.client.submit(json);
      if (outcome.kind !== "unavailable" || retry >= this.deps.maxRetries || signal.aborted) return outcome;
      await sleep(backoffDelay(this.deps.backoff, retry), signal);
      if (signal.aborted) return outcome;
    }
  }

  private async spoolReceipt(json: string, nonce: number): Promise<void> {
    const dropped = await this.deps.spool.put(json);
    this.summary.spooled++;
    for (let i = 0; i < dropped; i++) this.deps.metrics.receiptDropped();
    this.deps.metrics.setReceiptsQueued(this.deps.spool.size);
    this.deps.onEvent?.({ type: "spooled", nonce, queued: this.deps.spool.size, dropped });
  }

  /** Resubmits spooled receipts oldest first; stops at the first that cannot be delivered. */
  private async drainSpool(signal: AbortSignal): Promise<void> {
    const { spool, client, metrics, breaker } = this.deps;
    while (spool.size > 0 && !signal.aborted) {
      const entry = await spool.oldest();
      if (!entry) break;
      const outcome = await client.submit(entry.json);
      if (outcome.kind === "unavailable") {
        breaker.failure();
        break;
      }
      breaker.success();
      await spool.remove(entry.id);
      metrics.setReceiptsQueued(spool.size);
      if (outcome.kind === "accepted") {
        try {
          metrics.verifiedOps(attemptOps(parseReceipt(entry.json).sizes));
        } catch {
          // a spooled file we wrote ourselves always parses; nothing to count if it does not
        }
        this.deps.onEvent?.({ type: "resubmitted", id: entry.id, outcome: "accepted" });
      } else {
        this.deps.onEvent?.({ type: "resubmitted", id: entry.id, outcome: "rejected", code: outcome.code });
      }
    }
  }
}
