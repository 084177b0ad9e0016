/**
 * The verification pipeline (SPEC.md §6.3, §8).
 *
 * POST /verify:
 *   1. strict parse (400, the protocol's codes)     2. signature (401 BAD_SIGNATURE)
 *   3. the same receipt again? → the answer it already has (200 + seq, the same 202, 503 IN_PROGRESS)
 *   4. policy: key allowed / not quarantined (403), epoch fresh and prev_hash right (422),
 *      not a replay (409), sizes within this aggregator's bounds (422),
 *   5. audited (AUDIT_RATE, decided from the signed receipt with a secret key)? → 202 with the rows to open;
 *      else one committed insert in the store (whose unique constraints are the final word on
 *      replays, across processes), then 200.
 * POST /audit (the openings):
 *   parse, signature, audit_id issued for this receipt and not expired, rows exactly the requested
 *   ones with paths to work_root (else OPENING_MISMATCH), rows equal to the reference's (else
 *   WORK_ROOT_MISMATCH); both failures quarantine the key. Then the store, then 200.
 * After the last await before it, the checks up to the claim of the attempt run without yielding,
 * so two concurrent copies of one receipt in this process cannot both pass: the second sees the
 * first's claim. Between processes the store's constraints decide (duplicate / replay).
 */
import { attemptOps, bytesToHex, hexToBytes, MAX_RECEIPT_BYTES, serializeReceipt, OpeningsError, openingsProblem, parseOpenings, parseReceipt, ReceiptError, ReceiptErrorCode, type AuditRequest, type Receipt } from "@tops/protocol";
import type { Logger } from "pino";
import { attemptKey, type AuditPolicy } from "./audit-policy";
import type { AggregatorConfig } from "./config";
import type { EpochSchedule } from "./epochs";
import { AggregatorErrorCode as A, VerifyRejection } from "./errors";
import type { ReceiptStore } from "@tops/store";
import type { AggregatorMetricsRegistry } from "./metrics";
import type { QuarantineEvidence, StoreQuarantine } from "./quarantine";
import type { AttemptState, ReplayGuard } from "./replay";
import { RowCheckerBusyError, RowCheckerClosedError, type RowChecker } from "./row-checker";
import type { NodeSignatureVerifier } from "./signature";

export type VerifyPolicy = Pick<
  AggregatorConfig,
  "allowedKeys" | "quarantineSeconds" | "maxDim" | "maxBatch" | "auditPendingMax" | "auditPendingPerKey" | "auditTimeoutQuarantine"
>;

export interface VerifyDeps {
  readonly policy: VerifyPolicy;
  readonly audits: AuditPolicy;
  readonly epochs: EpochSchedule;
  readonly replay: ReplayGuard;
  readonly store: ReceiptStore;
  readonly quarantine: StoreQuarantine;
  readonly checker: RowChecker;
  readonly signatures: NodeSignatureVerifier;
  readonly metrics: AggregatorMetricsRegistry;
  readonly log: Logger;
  /** Unix milliseconds. */
  readonly clock: () => number;
}

export interface AcceptedOutcome {
  readonly kind: "accepted";
  readonly receipt: Receipt;
  readonly audited: boolean;
  /** Position in the ledger (the store's seq). */
  readonly seq: number;
  /** The receipt was already stored: this answer repeats the first one. */
  readonly duplicate: boolean;
  readonly durationMs: number;
}

/** The receipt is audited: the worker must open these rows (answered 202). */
export interface AuditOutcome {
  readonly kind: "audit";
  readonly receipt: Receipt;
  readonly audit: AuditRequest;
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

export type VerifyOutcome = AcceptedOutcome | AuditOutcome | RejectedOutcome;

interface PendingAudit {
  readonly receipt: Receipt;
  readonly request: AuditRequest;
  readonly timer: NodeJS.Timeout;
  /** Openings for it are being checked right now. */
  checking: boolean;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** JSON text is UTF-8 (RFC 8259): invalid bytes are refused, not silently replaced. */
function decodeBody(body: Uint8Array, limit: number): string | Uint8Array {
  // The parser measures size in bytes and refuses oversize receipts with its own code.
  if (body.length > limit) return body;
  try {
    return STRICT_UTF8.decode(body);
  } catch {
    throw new ReceiptError(ReceiptErrorCode.INVALID_JSON, "the body is not valid UTF-8");
  }
}

export class VerifyPipeline {
  private readonly inFlight = new Set<Promise<VerifyOutcome>>();
  private readonly pending = new Map<string, PendingAudit>();
  private readonly pendingPerKey = new Map<string, number>();
  /** Unix ms of each key's recent audit timeouts (within QUARANTINE_SECONDS). */
  private readonly timeouts = new Map<string, number[]>();
  private closing = false;

  constructor(private readonly deps: VerifyDeps) {}

  /** After this, every request is answered 503 UNAVAILABLE and pending audits stop counting down (used while shutting down). */
  stop(): void {
    this.closing = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
  }

  /** Resolves once every verification started so far has finished (used before closing the ledger). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Audits waiting for their openings. */
  get pendingAudits(): number {
    return this.pending.size;
  }

  verify(body: Uint8Array): Promise<VerifyOutcome> {
    return this.track(this.runVerify(body));
  }

  openings(body: Uint8Array): Promise<VerifyOutcome> {
    return this.track(this.runOpenings(body));
  }

  private track(run: Promise<VerifyOutcome>): Promise<VerifyOutcome> {
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  private async runVerify(body: Uint8Array): Promise<VerifyOutcome> {
    const started = performance.now();
    const now = this.deps.clock();
    let receipt: Receipt | undefined;
    try {
      if (this.closing) throw new VerifyRejection(A.UNAVAILABLE, "the aggregator is shutting down");
      receipt = parseReceipt(decodeBody(body, MAX_RECEIPT_BYTES));
      this.deps.signatures.assert(receipt);
      const r = receipt;
      this.deps.replay.advanceTo(this.deps.epochs.epochAt(now));
      const early = this.deps.replay.lookup(r);
      if (early.kind === "same") return await this.again(r, early.state, started, now);
      const refusedUntil = this.deps.quarantine.refusedUntil(r.pubkey_hex, now);
      const audited = this.deps.audits.chosen(r);
      // An audit is only worth asking for a receipt the store does not hold yet (a restart, or another aggregator, may have stored it).
      const stored = audited ? await this.storedAttempt(r) : undefined;
      // No await from here to the claim.
      const seen = this.deps.replay.lookup(r);
      if (seen.kind === "same") return await this.again(r, seen.state, started, now);
      this.checkKey(r, refusedUntil);
      if (stored) return this.storedAnswer(r, stored, started);
      const stale = this.freshnessRejection(r, now);
      if (stale) {
        // A receipt stored long ago and resubmitted (a spool after an outage) is answered as stored, not as stale.
        const old = audited ? undefined : await this.storedAttempt(r);
        if (old) return this.storedAnswer(r, old, started);
        throw stale;
      }
      if (seen.kind === "conflict") throw replayRejection(r, seen.rule);
      this.checkSizes(r);
      if (audited) return this.requestAudit(r, started, now);
      this.deps.replay.set(r, { kind: "in_flight" });
      return await this.commit(r, false, started);
    } catch (e) {
      return this.rejected(e, started, receipt, false);
    }
  }

  /** What the store holds for this receipt's attempt: its seq when it is this very receipt; a REPLAY when another one took it. */
  private async storedAttempt(r: Receipt): Promise<{ seq: number } | undefined> {
    const found = await this.deps.store.findAttempt(r.pubkey_hex, r.epoch_id, r.nonce);
    if (found) {
      if (found.sigHex !== r.sig_hex) throw replayRejection(r, "attempt");
      return { seq: found.seq };
    }
    if (await this.deps.store.signatureSeen(r.sig_hex)) throw replayRejection(r, "signature");
    return undefined;
  }

  private storedAnswer(receipt: Receipt, stored: { seq: number }, started: number): AcceptedOutcome {
    this.deps.replay.set(receipt, { kind: "stored", seq: stored.seq, audited: false });
    return { kind: "accepted", receipt, audited: false, seq: stored.seq, duplicate: true, durationMs: performance.now() - started };
  }

  /** The answer a receipt already has: resubmitting never costs a worker its receipt. */
  private async again(receipt: Receipt, state: AttemptState, started: number, now: number): Promise<VerifyOutcome> {
    switch (state.kind) {
      case "stored":
        return { kind: "accepted", receipt, audited: state.audited, seq: state.seq, duplicate: true, durationMs: performance.now() - started };
      case "auditing": {
        const pending = this.pending.get(attemptKey(receipt));
        if (pending) return { kind: "audit", receipt, audit: pending.request, durationMs: performance.now() - started };
        // Claimed by openings that arrived here for an audit issued elsewhere, then not finished: ask again.
        return this.requestAudit(receipt, started, now);
      }
      case "in_flight":
        throw new VerifyRejection(A.IN_PROGRESS, "this receipt is being verified right now; retry in a moment");
      case "refused":
        throw new VerifyRejection(state.code as A, state.message);
    }
  }

  private requestAudit(receipt: Receipt, started: number, now: number): AuditOutcome {
    const { auditPendingMax, auditPendingPerKey } = this.deps.policy;
    if (this.pending.size >= auditPendingMax) throw new VerifyRejection(A.OVERLOADED, `${this.pending.size} audits are waiting for openings; retry later`);
    const perKey = this.pendingPerKey.get(receipt.pubkey_hex) ?? 0;
    if (perKey >= auditPendingPerKey) throw new VerifyRejection(A.OVERLOADED, `this key has ${perKey} audits waiting for openings; answer them first`);
    const { audits } = this.deps;
    const request: AuditRequest = { audit_id: audits.auditId(receipt, now), rows: audits.rowsFor(receipt), expires_at: audits.expiresAt(now) };
    const key = attemptKey(receipt);
    const timer = setTimeout(() => this.expire(key), Math.max(0, request.expires_at - now));
    timer.unref();
    this.pending.set(key, { receipt, request, timer, checking: false });
    this.pendingPerKey.set(receipt.pubkey_hex, perKey + 1);
    this.deps.replay.set(receipt, { kind: "auditing" });
    return { kind: "audit", receipt, audit: request, durationMs: performance.now() - started };
  }

  private dropPending(key: string): PendingAudit | undefined {
    const p = this.pending.get(key);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(key);
    const n = (this.pendingPerKey.get(p.receipt.pubkey_hex) ?? 1) - 1;
    if (n > 0) this.pendingPerKey.set(p.receipt.pubkey_hex, n);
    else this.pendingPerKey.delete(p.receipt.pubkey_hex);
    return p;
  }

  /** No valid openings in time: refused for good, counted, and repeated timeouts quarantine the key. */
  private expire(key: string): void {
    const p = this.pending.get(key);
    if (!p || p.checking || this.closing) return;
    this.dropPending(key);
    const r = p.receipt;
    const message = `no valid openings arrived within ${this.deps.audits.options.timeoutMs} ms of the audit request`;
    this.deps.replay.set(r, { kind: "refused", code: A.AUDIT_EXPIRED, message });
    this.deps.metrics.audit("timeout");
    this.deps.metrics.rejected(A.AUDIT_EXPIRED);
    this.deps.log.warn({ event: "audit_expired", pubkey: r.pubkey_hex, device_did: r.device_did, epoch_id: r.epoch_id, nonce: r.nonce }, message);

    const now = this.deps.clock();
    const { quarantineSeconds, auditTimeoutQuarantine } = this.deps.policy;
    const recent = (this.timeouts.get(r.pubkey_hex) ?? []).filter((t) => t > now - quarantineSeconds * 1000);
    recent.push(now);
    this.timeouts.set(r.pubkey_hex, recent);
    if (auditTimeoutQuarantine > 0 && recent.length >= auditTimeoutQuarantine) {
      this.timeouts.delete(r.pubkey_hex);
      void this.quarantine(r, now, A.AUDIT_EXPIRED, { detail: `${recent.length} audits unanswered within ${quarantineSeconds} s` });
    }
  }

  private async runOpenings(body: Uint8Array): Promise<VerifyOutcome> {
    const started = performance.now();
    const now = this.deps.clock();
    let receipt: Receipt | undefined;
    let claimed: { key: string; fresh: boolean } | undefined;
    try {
      if (this.closing) throw new VerifyRejection(A.UNAVAILABLE, "the aggregator is shutting down");
      const text = decodeBody(body, Number.POSITIVE_INFINITY);
      let parsed;
      try {
        parsed = parseOpenings(typeof text === "string" ? text : "");
      } catch (e) {
        if (e instanceof OpeningsError) throw new VerifyRejection(A.BAD_OPENINGS, e.message, e.field);
        throw e;
      }
      receipt = parsed.receipt;
      this.deps.signatures.assert(receipt);
      const { audits, replay } = this.deps;
      const issuedAt = audits.issuedAtOf(receipt, parsed.audit_id);
      if (issuedAt === null) throw new VerifyRejection(A.BAD_AUDIT_ID, "audit_id was not issued for this receipt", "audit_id");
      replay.advanceTo(this.deps.epochs.epochAt(now));
      const seen = replay.lookup(receipt);
      if (seen.kind === "conflict") throw replayRejection(receipt, seen.rule);
      if (seen.kind === "same" && seen.state.kind !== "auditing") return await this.again(receipt, seen.state, started, now);
      const key = attemptKey(receipt);
      if (now > audits.expiresAt(issuedAt)) {
        this.expire(key);
        throw new VerifyRejection(A.AUDIT_EXPIRED, `the audit expired at ${new Date(audits.expiresAt(issuedAt)).toISOString()}`, "audit_id");
      }
      const r = receipt;
      const refusedUntil = this.deps.quarantine.refusedUntil(r.pubkey_hex, now);
      // No await from here to the claim.
      const again = replay.lookup(r);
      if (again.kind === "conflict") throw replayRejection(r, again.rule);
      if (again.kind === "same" && again.state.kind !== "auditing") return await this.again(r, again.state, started, now);
      this.checkKey(r, refusedUntil);
      const pending = this.pending.get(key);
      if (pending?.checking) throw new VerifyRejection(A.IN_PROGRESS, "openings for this receipt are being checked right now; retry in a moment");
      if (pending) pending.checking = true;
      else {
        // Issued by another aggregator sharing the secret, or before a restart: the same bounds apply.
        this.checkSizes(receipt);
        replay.set(receipt, { kind: "auditing" });
      }
      claimed = { key, fresh: pending === undefined };

      const rows = audits.rowsFor(receipt);
      const problem = openingsProblem(receipt, rows, parsed.openings);
      if (problem) {
        this.deps.metrics.audit("bad_opening");
        throw await this.refuseForGood(receipt, now, A.OPENING_MISMATCH, problem.reason, { ...(problem.row === undefined ? {} : { row: problem.row }), detail: problem.reason });
      }
      const computed = await this.computeRows(receipt, rows);
      for (const [i, row] of rows.entries()) {
        const claimedHex = parsed.openings[i]!.y2_hex;
        const computedHex = bytesToHex(computed[i]!);
        if (claimedHex !== computedHex) {
          this.deps.metrics.audit("mismatch");
          throw await this.refuseForGood(receipt, now, A.WORK_ROOT_MISMATCH, `row ${row} differs from the reference's recomputation`, {
            row, claimed_row_hex: claimedHex, computed_row_hex: computedHex,
          });
        }
      }
      this.deps.metrics.audit("match");
      // The key may have failed another audit while this one ran.
      const later = this.deps.clock();
      this.checkKey(receipt, this.deps.quarantine.refusedUntil(receipt.pubkey_hex, later));
      this.dropPending(key);
      replay.set(receipt, { kind: "in_flight" });
      claimed = undefined;
      return await this.commit(receipt, true, started);
    } catch (e) {
      if (claimed) {
        const p = this.pending.get(claimed.key);
        if (p) p.checking = false;
        else if (claimed.fresh && receipt) {
          // A claim taken here for an audit issued elsewhere is given back when nothing was decided.
          const now = this.deps.replay.lookup(receipt);
          if (now.kind === "same" && now.state.kind === "auditing") this.deps.replay.forget(receipt);
        }
      }
      return this.rejected(e, started, receipt, true);
    }
  }

  private async computeRows(receipt: Receipt, rows: number[]): Promise<Uint8Array[]> {
    try {
      return await this.deps.checker.rows({
        owner: receipt.pubkey_hex,
        attempt: { pubkey: hexToBytes(receipt.pubkey_hex), prevHash: hexToBytes(receipt.prev_hash_hex), deviceDid: receipt.device_did, nonce: receipt.nonce, sizes: receipt.sizes },
        rows,
      });
    } catch (e) {
      if (e instanceof RowCheckerBusyError) throw new VerifyRejection(A.OVERLOADED, `too many audits are waiting (${e.message}); retry later`);
      if (e instanceof RowCheckerClosedError) throw new VerifyRejection(A.UNAVAILABLE, "the aggregator is shutting down");
      this.deps.metrics.audit("error");
      throw new AuditFailure(e);
    }
  }

  /** A failed audit: the receipt is refused for good and the key quarantined. Returns the rejection to throw. */
  private async refuseForGood(r: Receipt, now: number, code: A, message: string, evidence: Partial<QuarantineEvidence>): Promise<VerifyRejection> {
    this.dropPending(attemptKey(r));
    const { quarantineSeconds } = this.deps.policy;
    const consequence = quarantineSeconds > 0 ? `; the key is refused for ${quarantineSeconds} s` : "";
    const rejection = new VerifyRejection(code, `${message}${consequence}`, "work_root_hex");
    this.deps.replay.set(r, { kind: "refused", code, message: rejection.message });
    await this.quarantine(r, now, code, evidence);
    return rejection;
  }

  private async quarantine(r: Receipt, now: number, reason: A, evidence: Partial<QuarantineEvidence>): Promise<void> {
    const { quarantineSeconds } = this.deps.policy;
    if (quarantineSeconds <= 0) return;
    await this.deps.quarantine.add({
      pubkey_hex: r.pubkey_hex, since: now, until: now + quarantineSeconds * 1000, reason,
      evidence: { epoch_id: r.epoch_id, nonce: r.nonce, device_did: r.device_did, sizes: r.sizes, work_root_hex: r.work_root_hex, ...evidence },
    }).catch((e: unknown) => {
      // Still refused in memory; only a restart before QUARANTINE_SECONDS would pardon it.
      this.deps.log.error({ event: "quarantine_write_failed", pubkey: r.pubkey_hex, err: e }, "could not persist a quarantine");
    });
  }

  /** One committed insert; the store's unique constraints turn a copy stored meanwhile (by any process) into a duplicate or a replay. */
  private async commit(receipt: Receipt, audited: boolean, started: number): Promise<AcceptedOutcome> {
    const { store, replay } = this.deps;
    const ops = attemptOps(receipt.sizes);
    let outcome;
    try {
      outcome = await store.accept(receipt, serializeReceipt(receipt), { audited, acceptedAt: this.deps.clock(), ops });
    } catch (e) {
      replay.forget(receipt);
      throw new LedgerWriteError(e);
    }
    if (outcome.kind === "replay") {
      replay.forget(receipt);
      throw replayRejection(receipt, outcome.rule);
    }
    if (outcome.kind === "quarantined") {
      // Quarantined by another aggregator since this one last read the list.
      replay.forget(receipt);
      this.deps.quarantine.learnt(receipt.pubkey_hex, outcome.until);
      throw quarantinedRejection(outcome.until);
    }
    const duplicate = outcome.kind === "duplicate";
    replay.set(receipt, { kind: "stored", seq: outcome.seq, audited });
    const durationMs = performance.now() - started;
    if (!duplicate) this.deps.metrics.accepted(durationMs, ops);
    return { kind: "accepted", receipt, audited, seq: outcome.seq, duplicate, durationMs };
  }

  private rejected(e: unknown, started: number, receipt: Receipt | undefined, audited: boolean): RejectedOutcome {
    const { rejection, cause } = toRejection(e);
    const durationMs = performance.now() - started;
    this.deps.metrics.rejected(rejection.code, durationMs);
    return { kind: "rejected", rejection, audited, durationMs, ...(receipt ? { receipt } : {}), ...(cause === undefined ? {} : { cause }) };
  }

  /** `until`: what the quarantine said for this key just before (null: not refused). */
  private checkKey(r: Receipt, until: number | null): void {
    const { allowedKeys } = this.deps.policy;
    if (allowedKeys !== null && !allowedKeys.has(r.pubkey_hex)) {
      throw new VerifyRejection(A.KEY_NOT_ALLOWED, "pubkey_hex is not on this aggregator's allow list", "pubkey_hex");
    }
    if (until !== null) throw quarantinedRejection(until);
  }

  private freshnessRejection(r: Receipt, now: number): VerifyRejection | null {
    const problem = this.deps.epochs.freshnessProblem(r.epoch_id, r.prev_hash_hex, now);
    if (problem === A.STALE_EPOCH) {
      const current = this.deps.epochs.epochAt(now);
      return new VerifyRejection(A.STALE_EPOCH, `epoch ${r.epoch_id} is neither the current (${current}) nor the previous epoch; fetch GET /challenge`, "epoch_id");
    }
    if (problem === A.PREV_HASH_MISMATCH) {
      return new VerifyRejection(A.PREV_HASH_MISMATCH, `prev_hash_hex is not the challenge of epoch ${r.epoch_id}`, "prev_hash_hex");
    }
    return null;
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
}

function replayRejection(r: Receipt, rule: "attempt" | "signature"): VerifyRejection {
  return rule === "attempt"
    ? new VerifyRejection(A.REPLAY, `nonce ${r.nonce} of epoch ${r.epoch_id} was already claimed by another receipt of this key`, "nonce")
    : new VerifyRejection(A.REPLAY, "this signature was already claimed (possibly under another key)", "sig_hex");
}

/** The row checker itself failed (not the receipt): answered 503 so the worker retries before its deadline. */
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
  if (e instanceof LedgerWriteError) return { rejection: new VerifyRejection(A.UNAVAILABLE, "the receipt could not be stored; retry later"), cause: e.reason };
  return { rejection: new VerifyRejection(A.INTERNAL_ERROR, "internal error"), cause: e };
}

function quarantinedRejection(until: number): VerifyRejection {
  return new VerifyRejection(A.KEY_QUARANTINED, `this key failed an audit and is refused until ${new Date(until).toISOString()}`, "pubkey_hex");
}
