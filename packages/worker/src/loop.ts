/**
 * The worker loop: challenge → attempt → sign → submit, over and over.
 *
 * Network trouble is retried with backoff and jitter; a circuit breaker stops hammering a
 * dead aggregator; receipts that cannot be delivered go to the spool and are resubmitted,
 * oldest first, once the aggregator answers again. An audited receipt (202) is answered with
 * the requested rows' openings before its deadline. Every outcome lands in the metrics.
 */
import {
  attemptOps, deriveSeed, hexToBytes, parseReceipt, publicKeyHex, serializeOpenings, serializeReceipt, signReceipt, bytesToHex,
  type AuditRequest, type Receipt, type Sizes,
} from "@tops/protocol";
import { AggregatorUnavailable, ChallengeUnsupported, type AggregatorClient, type Challenge, type SubmitOutcome } from "./aggregator-client";
import { backoffDelay, sleep, type BackoffPolicy } from "./backoff";
import type { CircuitBreaker } from "./circuit-breaker";
import { classOfRejection, type ErrorClass } from "./error-class";
import { OpeningError, type AttemptMemory, type RowOpener } from "./openings";
import type { RateLimiter } from "./rate-limiter";
import type { Spool } from "./spool";

/** What the loop needs of the engine. */
export interface AttemptEngine {
  readonly driverHint: string;
  readonly kernelVer: string;
  /** `variant` names the kernel that ran; `exploring` marks a run timing a candidate kernel (its time says nothing about the sizes). */
  runAttempt(input: { seed: Uint8Array; sizes: Sizes }): Promise<{ workRoot: Uint8Array; leaves: Uint8Array; wallMs: number; variant: string; exploring?: boolean }>;
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
  /** A spooled receipt the aggregator refused on resubmission: that work is lost. */
  spoolReceiptRefused(code: string): void;
}

export type LoopEvent =
  | { type: "signed"; nonce: number; epochId: number; sizes: Sizes; timeMs: number }
  | { type: "accepted"; nonce: number; sizes: Sizes; timeMs: number; ops: number }
  | { type: "failed"; errorClass: ErrorClass; code: string; message: string; nonce?: number }
  | { type: "spooled"; nonce: number; queued: number; dropped: number }
  | { type: "resubmitted"; id: string; nonce?: number; outcome: "accepted" | "rejected"; code?: string; queued: number }
  | { type: "audit"; nonce: number; rows: number; outcome: "accepted" | "rejected" | "unavailable"; code?: string }
  | { type: "static_challenge"; epochId: number; prevHashHex: string; reason: string };

export interface WorkerLoopDeps {
  readonly deviceDid: string;
  readonly secretKey: Uint8Array;
  readonly maxRetries: number;
  readonly backoff: BackoffPolicy;
  readonly maxAttempts: number;
  readonly engine: AttemptEngine;
  readonly sizes: SizePicker;
  readonly client: Pick<AggregatorClient, "challenge" | "submit" | "submitOpenings">;
  /** Leaves of recent attempts, for audits. */
  readonly memory: AttemptMemory;
  readonly opener: RowOpener;
  /** Used when the aggregator has no /challenge (the Rust project's verifier): EPOCH_ID, PREV_HASH_HEX. */
  readonly staticChallenge: { readonly epochId: number; readonly prevHashHex: string };
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

  /** Compressed public key: part of every seed, so the work is bound to this signer. */
  private readonly pubkey: Uint8Array;

  constructor(private readonly deps: WorkerLoopDeps) {
    this.pubkey = hexToBytes(publicKeyHex(deps.secretKey));
  }

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
        if (e instanceof ChallengeUnsupported) {
          // An aggregator without challenges (the Rust project's verifier): work on the configured static one, said once.
          const { epochId, prevHashHex } = this.deps.staticChallenge;
          this.challenge = { epochId, prevHashHex, expiresAt: Number.POSITIVE_INFINITY };
          this.deps.onEvent?.({ type: "static_challenge", epochId, prevHashHex, reason: e.message });
          return this.challenge;
        }
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
    const seed = deriveSeed({ pubkey: this.pubkey, prevHash: hexToBytes(challenge.prevHashHex), deviceDid: this.deps.deviceDid, nonce });
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
    let receipt: Receipt;
    let json: string;
    try {
      receipt = signReceipt({
        device_did: this.deps.deviceDid, epoch_id: challenge.epochId, prev_hash_hex: challenge.prevHashHex, nonce,
        work_root_hex: bytesToHex(result.workRoot), sizes, time_ms: timeMs, kernel_ver: kernelVersion(engine.kernelVer, result.variant),
        driver_hint: engine.driverHint,
      }, this.deps.secretKey);
      json = serializeReceipt(receipt);
    } catch (e) {
      return this.fail("signature", "SIGN_FAILED", (e as Error).message, elapsed(), nonce);
    }
    this.deps.memory.keep(receipt.work_root_hex, result.leaves);
    this.deps.onEvent?.({ type: "signed", nonce, epochId: challenge.epochId, sizes, timeMs });
    if (!result.exploring) this.deps.sizes.record(sizes, timeMs);

    const outcome = await this.deliver(receipt, json, signal);
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

  /** Submits a receipt and, when it is audited, answers the audit: the receipt's final outcome (never "audit"). */
  private async deliver(receipt: Receipt, json: string, signal: AbortSignal): Promise<Exclude<SubmitOutcome, { kind: "audit" }>> {
    const outcome = await this.withRetry(() => this.deps.client.submit(json), signal);
    if (outcome.kind !== "audit") return outcome;
    return this.answerAudit(receipt, outcome.request, signal);
  }

  /** Opens the requested rows and posts them, retrying while the aggregator is unavailable and the audit has time left. */
  private async answerAudit(receipt: Receipt, request: AuditRequest, signal: AbortSignal): Promise<Exclude<SubmitOutcome, { kind: "audit" }>> {
    const started = performance.now();
    let body: string;
    try {
      const openings = await this.deps.opener.open(receipt, request.rows);
      body = serializeOpenings({ audit_id: request.audit_id, receipt, openings });
    } catch (e) {
      const code = e instanceof OpeningError ? e.code : "OPENING_FAILED";
      this.deps.onEvent?.({ type: "audit", nonce: receipt.nonce, rows: request.rows.length, outcome: "rejected", code });
      return { kind: "rejected", status: 0, code, message: (e as Error).message, latencyMs: performance.now() - started };
    }
    let outcome: SubmitOutcome;
    for (let retry = 0; ; retry++) {
      outcome = await this.deps.client.submitOpenings(body);
      if (outcome.kind !== "unavailable" || signal.aborted) break;
      const wait = backoffDelay(this.deps.backoff, Math.min(retry, 10));
      if (Date.now() + wait >= request.expires_at) break;
      await sleep(wait, signal);
    }
    // A second 202 cannot be right: the openings answer is final.
    const final: Exclude<SubmitOutcome, { kind: "audit" }> = outcome.kind === "audit"
      ? { kind: "unavailable", reason: "the aggregator asked for another audit in answer to openings", latencyMs: outcome.latencyMs }
      : outcome;
    this.deps.onEvent?.({
      type: "audit", nonce: receipt.nonce, rows: request.rows.length, outcome: final.kind, ...(final.kind === "rejected" ? { code: final.code } : {}),
    });
    return final;
  }

  private async withRetry(send: () => Promise<SubmitOutcome>, signal: AbortSignal): Promise<SubmitOutcome> {
    for (let retry = 0; ; retry++) {
      const outcome = await send();
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
    const { spool, metrics, breaker } = this.deps;
    while (spool.size > 0 && !signal.aborted) {
      const entry = await spool.oldest();
      if (!entry) break;
      let receipt: Receipt;
      try {
        receipt = parseReceipt(entry.json);
      } catch (e) {
        // Damaged on disk: it cannot be opened for an audit or trusted; drop it, said and counted.
        await spool.remove(entry.id);
        metrics.setReceiptsQueued(spool.size);
        metrics.spoolReceiptRefused("SPOOL_DAMAGED");
        this.deps.onEvent?.({ type: "resubmitted", id: entry.id, outcome: "rejected", code: `SPOOL_DAMAGED: ${(e as Error).message}`, queued: spool.size });
        continue;
      }
      const outcome = await this.deliver(receipt, entry.json, signal);
      if (outcome.kind === "unavailable") {
        breaker.failure();
        break;
      }
      breaker.success();
      await spool.remove(entry.id);
      metrics.setReceiptsQueued(spool.size);
      if (outcome.kind === "accepted") {
        metrics.verifiedOps(attemptOps(receipt.sizes));
        this.deps.onEvent?.({ type: "resubmitted", id: entry.id, nonce: receipt.nonce, outcome: "accepted", queued: spool.size });
      } else {
        metrics.spoolReceiptRefused(outcome.code);
        this.deps.onEvent?.({ type: "resubmitted", id: entry.id, nonce: receipt.nonce, outcome: "rejected", code: outcome.code, queued: spool.size });
      }
    }
  }
}
