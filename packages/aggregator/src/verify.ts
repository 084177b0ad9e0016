/**
 * POST /verify's pipeline, in the order of SPEC.md §6.3:
 *   1. strict parse (400, the protocol's codes)     2. signature (401 BAD_SIGNATURE)
 *   3. policy: key allowed / not quarantined (403), epoch fresh and prev_hash right (422),
 *      not a replay (409), sizes within this aggregator's bounds (422),
 *   4. audit for a random AUDIT_RATE share (422 WORK_ROOT_MISMATCH, then the key is quarantined),
 *   5. durable ledger append, then 200.
 * Steps 1–3 and the replay reservation run without yielding to the event loop, so two
 * concurrent copies of one receipt cannot both pass: the second sees the first's reservation.
 */
import { randomInt } from "node:crypto";
import { bytesToHex, hexToBytes, MAX_RECEIPT_BYTES, parseReceipt, ReceiptError, ReceiptErrorCode, type Receipt } from "@tops/protocol";
import type { Logger } from "pino";
import type { AggregatorConfig } from "./config";
import type { EpochSchedule } from "./epochs";
import { AggregatorErrorCode as A, VerifyRejection } from "./errors";
import { AuditorBusyError, type Auditor } from "./auditor";
import type { Ledger } from "./ledger";
import type { AggregatorMetricsRegistry } from "./metrics";
import type { Quarantine } from "./quarantine";
import type { ReplayGuard } from "./replay";
import type { NodeSignatureVerifier } from "./signature";

export type VerifyPolicy = Pick<AggregatorConfig, "allowedKeys" | "auditRate" | "quarantineSeconds" | "maxDim" | "maxBatch">;

export interface VerifyDeps {
  readonly policy: VerifyPolicy;
  readonly epochs: EpochSchedule;
  readonly replay: ReplayGuard;
  readonly ledger: Ledger;
  readonly quarantine: Quarantine;
  readonly auditor: Auditor;
  readonly signatures: NodeSignatureVerifier;
  readonly metrics: AggregatorMetricsRegistry;
  readonly log: Logger;
  /** Unix milliseconds. */
  readonly clock: () => number;
  /** Whether to audit this receipt; defaults to crypto randomness at policy.auditRate. */
  readonly shouldAudit?: () => boolean;
}

export interface AcceptedOutcome {
  readonly kind: "accepted";
  readonly receipt: Receipt;
  readonly audited: boolean;
  /** Position in the ledger. */
  readonly seq: number;
  readonly durationMs: number;
}

export interface RejectedOutcome {
  readonly kind: "rejected";
  readonly rejection: VerifyRejection;
  /** The receipt when it parsed (for the log line). */
  readonly receipt?: Receipt;
  readonly audited: boolean;
  readonly durationMs: number;
  /** An unexpected error behind an INTERNAL_ERROR or UNAVAILABLE answer, for the log only. */
  readonly cause?: unknown;
}

export type VerifyOutcome = AcceptedOutcome | RejectedOutcome;

/** True with probability `rate`, from crypto randomness: a worker cannot guess which receipts are audited. */
export function randomAuditChoice(rate: number): () => boolean {
  if (rate <= 0) return () => false;
  if (rate >= 1) return () => true;
  const RANGE = 2 ** 48;
  return () => randomInt(RANGE) < rate * RANGE;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** JSON text is UTF-8 (RFC 8259): invalid bytes are refused, not silently replaced. */
function decodeBody(body: Uint8Array): string | Uint8Array {
  // The parser measures size in bytes and refuses oversize receipts with its own code.
  if (body.length > MAX_RECEIPT_BYTES) return body;
  try {
    return STRICT_UTF8.decode(body);
  } catch {
    throw new ReceiptError(ReceiptErrorCode.INVALID_JSON, "receipt is not valid UTF-8");
  }
}

export class VerifyPipeline {
  private readonly shouldAudit: () => boolean;
  private readonly inFlight = new Set<Promise<VerifyOutcome>>();
  private closing = false;

  constructor(private readonly deps: VerifyDeps) {
    this.shouldAudit = deps.shouldAudit ?? randomAuditChoice(deps.policy.auditRate);
  }

  /** After this, every request is answered 503 UNAVAILABLE (used while shutting down). */
  stop(): void {
    this.closing = true;
  }

  /** Resolves once every verification started so far has finished (used before closing the ledger). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  verify(body: Uint8Array): Promise<VerifyOutcome> {
    const run = this.run(body);
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  private async run(body: Uint8Array): Promise<VerifyOutcome> {
    const started = performance.now();
    const now = this.deps.clock();
    let receipt: Receipt | undefined;
    let reserved = false;
    let audited = false;
    try {
      if (this.closing) throw new VerifyRejection(A.UNAVAILABLE, "the aggregator is shutting down");
      receipt = parseReceipt(decodeBody(body));
      this.deps.signatures.assert(receipt);
      this.checkKey(receipt, now);
      this.checkFreshness(receipt, now);
      this.checkReplay(receipt, now);
      this.checkSizes(receipt);
      this.deps.replay.record(receipt);
      reserved = true;

      audited = this.shouldAudit();
      if (audited) await this.audit(receipt, now);
      // The key may have failed another audit while this one ran.
      this.checkKey(receipt, this.deps.clock());
      if (this.deps.ledger.failed) throw new VerifyRejection(A.UNAVAILABLE, "the ledger cannot be written; retry later");
      const seq = await this.deps.ledger.append(receipt, audited, this.deps.clock()).catch((e: unknown) => {
        throw new LedgerWriteError(e);
      });
      const durationMs = performance.now() - started;
      this.deps.metrics.accepted(durationMs);
      return { kind: "accepted", receipt, audited, seq, durationMs };
    } catch (e) {
      if (reserved && receipt) this.deps.replay.forget(receipt);
      const { rejection, cause } = toRejection(e);
      const durationMs = performance.now() - started;
      this.deps.metrics.rejected(rejection.code, durationMs);
      return { kind: "rejected", rejection, audited, durationMs, ...(receipt ? { receipt } : {}), ...(cause === undefined ? {} : { cause }) };
    }
  }

  private checkKey(r: Receipt, now: number): void {
    const { allowedKeys } = this.deps.policy;
    if (allowedKeys !== null && !allowedKeys.has(r.pubkey_hex)) {
      throw new VerifyRejection(A.KEY_NOT_ALLOWED, "pubkey_hex is not on this aggregator's allow list", "pubkey_hex");
    }
    const until = this.deps.quarantine.refusedUntil(r.pubkey_hex, now);
    if (until !== null) {
      throw new VerifyRejection(A.KEY_QUARANTINED, `this key failed an audit and is refused until ${new Date(until).toISOString()}`, "pubkey_hex");
    }
  }

  private checkFreshness(r: Receipt, now: number): void {
    const problem = this.deps.epochs.freshnessProblem(r.epoch_id, r.prev_hash_hex, now);
    if (problem === A.STALE_EPOCH) {
      const current = this.deps.epochs.epochAt(now);
      throw new VerifyRejection(A.STALE_EPOCH, `epoch ${r.epoch_id} is neither the current (${current}) nor the previous epoch; fetch GET /challenge`, "epoch_id");
    }
    if (problem === A.PREV_HASH_MISMATCH) {
      throw new VerifyRejection(A.PREV_HASH_MISMATCH, `prev_hash_hex is not the challenge of epoch ${r.epoch_id}`, "prev_hash_hex");
    }
  }

  private checkReplay(r: Receipt, now: number): void {
    this.deps.replay.advanceTo(this.deps.epochs.epochAt(now));
    const rule = this.deps.replay.violation(r);
    if (rule === "attempt") throw new VerifyRejection(A.REPLAY, `nonce ${r.nonce} of epoch ${r.epoch_id} was already accepted for this key`, "nonce");
    if (rule === "signature") throw new VerifyRejection(A.REPLAY, "this signature was already accepted (possibly under another key)", "sig_hex");
  }

  private checkSizes(r: Receipt): void {
    const { maxDim, maxBatch } = this.deps.policy;
    for (const dim of ["m", "n", "k"] as const) {
      if (r.sizes[dim] > maxDim) throw new VerifyRejection(A.SIZES_NOT_ACCEPTED, `sizes.${dim} = ${r.sizes[dim]} exceeds this aggregator's MAX_DIM ${maxDim}`, `sizes.${dim}`);
    }
    if (r.sizes.batch > maxBatch) {
      throw new VerifyRejection(A.SIZES_NOT_ACCEPTED, `sizes.batch = ${r.sizes.batch} exceeds this aggregator's MAX_BATCH ${maxBatch}`, "sizes.batch");
    }
  }

  private async audit(r: Receipt, now: number): Promise<void> {
    let computed: string;
    try {
      computed = bytesToHex(await this.deps.auditor.workRoot({
        prevHash: hexToBytes(r.prev_hash_hex), deviceDid: r.device_did, nonce: r.nonce, sizes: r.sizes,
      }));
    } catch (e) {
      if (e instanceof AuditorBusyError) throw new VerifyRejection(A.OVERLOADED, `too many audits are waiting (${e.message}); retry later`);
      this.deps.metrics.audit("error");
      throw new AuditFailure(e);
    }
    if (computed === r.work_root_hex) {
      this.deps.metrics.audit("match");
      return;
    }
    this.deps.metrics.audit("mismatch");
    const { quarantineSeconds } = this.deps.policy;
    if (quarantineSeconds > 0) {
      await this.deps.quarantine.add({
        pubkey_hex: r.pubkey_hex, since: now, until: now + quarantineSeconds * 1000, reason: A.WORK_ROOT_MISMATCH,
        evidence: {
          epoch_id: r.epoch_id, nonce: r.nonce, device_did: r.device_did, sizes: r.sizes,
          claimed_work_root_hex: r.work_root_hex, computed_work_root_hex: computed,
        },
      }).catch((e: unknown) => {
        // Still refused in memory; only a restart before QUARANTINE_SECONDS would pardon it.
        this.deps.log.error({ event: "quarantine_write_failed", pubkey: r.pubkey_hex, err: e }, "could not persist a quarantine");
      });
    }
    const consequence = quarantineSeconds > 0 ? `; the key is refused for ${quarantineSeconds} s` : "";
    throw new VerifyRejection(A.WORK_ROOT_MISMATCH, `work_root_hex does not match the recomputed attempt${consequence}`, "work_root_hex");
  }
}

/** The auditor itself failed (not the receipt): answered 503 so the worker retries later. */
class AuditFailure extends Error {
  constructor(readonly reason: unknown) {
    super("audit failed");
  }
}

class LedgerWriteError extends Error {
  constructor(readonly reason: unknown) {
    super("ledger write failed");
  }
}

function toRejection(e: unknown): { rejection: VerifyRejection; cause?: unknown } {
  if (e instanceof VerifyRejection) return { rejection: e };
  if (e instanceof ReceiptError) return { rejection: new VerifyRejection(e.code, e.message, e.field) };
  if (e instanceof AuditFailure) return { rejection: new VerifyRejection(A.UNAVAILABLE, "the audit could not run; retry later"), cause: e.reason };
  if (e instanceof LedgerWriteError) return { rejection: new VerifyRejection(A.UNAVAILABLE, "the ledger cannot be written; retry later"), cause: e.reason };
  return { rejection: new VerifyRejection(A.INTERNAL_ERROR, "internal error"), cause: e };
}
